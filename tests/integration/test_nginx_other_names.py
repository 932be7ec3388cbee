"""An installer never takes a certificate away from other names (nginx).

When the block serving a requested name on the HTTPS port also serves names the new
certificate does not cover (a wildcard, several names, a regular expression), the requested
names get a copy of the block with the new certificate and the block keeps serving the rest
with its old one. Proven with a TLS handshake (SNI) for every name, before and after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.harness.nginx import NginxServer, get, peer_certificate, self_signed
from tests.harness.servers import Pebble, free_port
from tests.integration.checks import load_chain
from tests.integration.conftest import Client, unique_name

BLOCK = """\
server {
    listen {https} ssl;
    server_name SERVER_NAMES;
    ssl_certificate {prefix}/old.pem;
    ssl_certificate_key {prefix}/old.key;
    add_header X-Site shared;
    root {prefix}/www;
}
"""


@pytest.fixture
def nginx(pebble: Pebble, tmp_path: Path) -> Iterator[NginxServer]:
    server = NginxServer.create(tmp_path / "nginx", pebble.http_port, free_port())
    yield server
    server.stop()


def served(nginx: NginxServer, name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(peer_certificate(nginx.https_port, name, "127.0.0.1"))


def setup(nginx: NginxServer, server_names: str, old_names: tuple[str, ...]) -> x509.Certificate:
    old = self_signed(nginx.prefix / "old.pem", nginx.prefix / "old.key", old_names)
    nginx.write_site("site", BLOCK.replace("SERVER_NAMES", server_names))
    nginx.start(wait_port=nginx.https_port)
    return old


def obtain(client: Client, nginx: NginxServer, *names: str) -> x509.Certificate:
    args = [a for n in names for a in ("-d", n)]
    result = client.run("obtain", *args, "--nginx", *nginx.plugin_args())
    assert result.returncode == 0, result
    return load_chain(client.live(names[0]) / "cert.pem")[0]


@pytest.mark.parametrize(
    ("server_names", "requested", "others"),
    [
        ("*.{d}", ["www.{d}"], ["api.{d}", "x.{d}"]),
        ("a.{d} b.{d} c.{d}", ["a.{d}", "c.{d}"], ["b.{d}"]),
        (r"~^(?<sub>\w+)\.{d}$", ["shop.{d}"], ["blog.{d}"]),
        ("a.{d} *.{d}", ["a.{d}"], ["z.{d}"]),
    ],
    ids=["wildcard", "several-names", "regex", "exact-and-wildcard"],
)
def test_the_other_names_keep_their_certificate(
    client: Client,
    nginx: NginxServer,
    server_names: str,
    requested: list[str],
    others: list[str],
) -> None:
    domain = unique_name("split")
    fill = [n.replace("{d}", domain) for n in (*requested, *others)]
    wanted, rest = fill[: len(requested)], fill[len(requested) :]
    old = setup(nginx, server_names.replace("{d}", domain), (f"*.{domain}", *fill))
    assert all(served(nginx, n) == old for n in fill)

    new = obtain(client, nginx, *wanted)

    for name in wanted:
        assert served(nginx, name) == new, name
    for name in rest:
        assert served(nginx, name) == old, name
    for name in fill:  # the copy carries the block's other directives
        status, headers, body = get(nginx.https_port, name, tls=True)
        assert (status, headers.get("x-site"), body) == (200, "shared", b"hello from nginx\n")
    text = (nginx.prefix / "sites-available" / "site").read_text()
    assert text.count("server {") == 2
    assert "a copy of the server block at" in text


def test_a_block_whose_names_are_all_covered_is_updated_in_place(
    client: Client, nginx: NginxServer
) -> None:
    domain = unique_name("whole")
    names = [f"a.{domain}", f"b.{domain}"]
    old = setup(nginx, " ".join(names), tuple(names))
    assert served(nginx, names[1]) == old

    new = obtain(client, nginx, *names)

    assert [served(nginx, n) for n in names] == [new, new]
    text = (nginx.prefix / "sites-available" / "site").read_text()
    assert text.count("server {") == 1


def test_a_second_run_does_not_split_again(client: Client, nginx: NginxServer) -> None:
    domain = unique_name("again")
    old = setup(nginx, f"a.{domain} b.{domain}", (f"a.{domain}", f"b.{domain}"))
    first = obtain(client, nginx, f"a.{domain}")
    result = client.run(
        "install", "--cert-name", f"a.{domain}", "--nginx", *nginx.plugin_args(), register=False
    )
    assert result.returncode == 0, result
    text = (nginx.prefix / "sites-available" / "site").read_text()
    assert text.count("server {") == 2
    assert served(nginx, f"a.{domain}") == first
    assert served(nginx, f"b.{domain}") == old
