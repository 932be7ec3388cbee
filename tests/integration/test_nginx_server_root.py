"""``--nginx-server-root`` as certbot means it: a real nginx running from a tree that is not
its compiled-in root, driven with the plain nginx binary as ``--nginx-ctl`` (no wrapper):
certbot-like runs it with ``-c ROOT/nginx.conf`` (and the master's ``-p``) for ``-t``, ``-T``
and reloads. What is checked is what nginx serves in TLS handshakes with SNI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.harness.nginx import NginxServer, peer_certificate, self_signed
from tests.harness.servers import Pebble, free_port, require_binary
from tests.integration.checks import load_chain
from tests.integration.conftest import Client, unique_name

OLD_HTTPS = """\
server {
    listen {https} ssl;
    server_name {name};
    ssl_certificate {prefix}/{name}.pem;
    ssl_certificate_key {prefix}/{name}.key;
    root {prefix}/www;
}
server {
    listen {http};
    server_name {name};
    root {prefix}/www;
}
"""


@pytest.fixture
def nginx(pebble: Pebble, tmp_path: Path) -> Iterator[NginxServer]:
    server = NginxServer.create(tmp_path / "srv" / "nginx", pebble.http_port, free_port())
    yield server
    server.stop()


def plain_binary_args(nginx: NginxServer) -> list[str]:
    """The plugin flags with the nginx binary itself as --nginx-ctl (no -p/-c wrapper)."""
    args = nginx.plugin_args()
    args[args.index("--nginx-ctl") + 1] = require_binary("nginx")
    return args


def served(nginx: NginxServer, name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(peer_certificate(nginx.https_port, name, "127.0.0.1"))


def site_with_old_certificate(nginx: NginxServer, name: str) -> x509.Certificate:
    old = self_signed(nginx.prefix / f"{name}.pem", nginx.prefix / f"{name}.key", (name,))
    nginx.write_site(name, OLD_HTTPS.replace("{name}", name))
    return old


def test_a_root_of_its_own_with_the_plain_binary_then_rollback_two_checkpoints(
    client: Client, nginx: NginxServer
) -> None:
    first, second = unique_name("root"), unique_name("root")
    old = {n: site_with_old_certificate(nginx, n) for n in (first, second)}
    nginx.start(wait_port=nginx.https_port)
    assert {n: served(nginx, n) for n in old} == old

    for name in (first, second):
        result = client.run("obtain", "-d", name, "--nginx", *plain_binary_args(nginx))
        assert result.returncode == 0, result
    for name in (first, second):
        assert served(nginx, name) == load_chain(client.live(name) / "cert.pem")[0]

    undo = client.run(
        "rollback", "--nginx", *plain_binary_args(nginx), "--checkpoints", "2", register=False
    )
    assert undo.returncode == 0, undo
    assert {n: served(nginx, n) for n in old} == old


def test_a_relative_pid_file_resolves_against_the_masters_prefix(
    client: Client, nginx: NginxServer
) -> None:
    """`pid logs/nginx.pid;` is relative to -p: without the master's -p, `nginx -s reload`
    would look for the pid under the compiled prefix and fail."""
    main = nginx.prefix / "nginx.conf"
    main.write_text(main.read_text().replace(f"pid {nginx.prefix}/nginx.pid;", "pid logs/x.pid;"))
    name = unique_name("pid")
    site_with_old_certificate(nginx, name)
    nginx.start(wait_port=nginx.https_port)
    assert (nginx.prefix / "logs" / "x.pid").exists()

    result = client.run("obtain", "-d", name, "--nginx", *plain_binary_args(nginx), "-vv")
    assert result.returncode == 0, result
    assert served(nginx, name) == load_chain(client.live(name) / "cert.pem")[0]
    assert f"nginx runs with -p {nginx.prefix} -c {main}" in result.stderr
    assert "No nginx master pid to watch" not in result.stderr


def test_the_wrong_root_is_one_line(client: Client, nginx: NginxServer, tmp_path: Path) -> None:
    name = unique_name("wrong")
    site_with_old_certificate(nginx, name)
    nginx.start(wait_port=nginx.https_port)
    empty = tmp_path / "empty-root"
    empty.mkdir()
    args = plain_binary_args(nginx)
    args[args.index("--nginx-server-root") + 1] = str(empty)
    result = client.run("obtain", "-d", name, "--nginx", *args)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(empty) in result.stderr
