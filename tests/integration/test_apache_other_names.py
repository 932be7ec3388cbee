"""An installer never takes a certificate away from other names (Apache).

An SSL VirtualHost that serves a requested name and names the certificate does not cover (a
wildcard ServerAlias, several names) keeps its certificate for them; the requested names get
a VirtualHost of their own, placed where Apache's selection picks it without changing the
address's default. Proven with TLS handshakes (SNI) for every name before and after."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.harness.apache import ApacheServer, make_tree, world_readable_dir
from tests.harness.nginx import self_signed
from tests.harness.servers import Pebble
from tests.integration.checks import load_chain
from tests.integration.conftest import Client, assert_no_secrets, unique_name

VHOST = """\
<VirtualHost *:{https}>
    NAMES
    DocumentRoot {root}/www/d
    SSLEngine on
    SSLCertificateFile {root}/CERT.pem
    SSLCertificateKeyFile {root}/CERT.key
    Header always set X-Site "KEY"
</VirtualHost>
"""


class Tree:
    def __init__(self, server: ApacheServer, client: Client, domain: str) -> None:
        self.server, self.client, self.domain = server, client, domain
        self.certs: dict[str, x509.Certificate] = {}

    def add_ssl_site(self, vhosts: list[tuple[str, str]]) -> Path:
        """An SSL site of VirtualHosts (key, ServerName/ServerAlias lines), each with its
        own self-signed certificate for the names it lists."""
        root = self.server.root
        blocks = []
        for key, names in vhosts:
            listed = [w for line in names.splitlines() for w in line.split()[1:]]
            self.certs[key] = self_signed(root / f"{key}.pem", root / f"{key}.key", tuple(listed))
            os.chmod(root / f"{key}.key", 0o644)  # apache2 reads it as www-data in the tests
            block = VHOST.replace("NAMES", names.replace("\n", "\n    ")).replace("CERT", key)
            blocks.append(block.replace("KEY", key))
        text = "<IfModule mod_ssl.c>\n" + "\n".join(blocks) + "</IfModule>\n"
        text = text.replace("{https}", str(self.server.https_port))
        text = text.replace("{root}", str(root))
        site = root / "sites-available" / "shared-ssl.conf"
        site.write_text(text)
        (root / "sites-enabled" / site.name).symlink_to(f"../sites-available/{site.name}")
        for module in ("ssl.load", "ssl.conf", "socache_shmcb.load", "headers.load"):
            (root / "mods-enabled" / module).symlink_to(f"../mods-available/{module}")
        return site

    def served(self, name: str) -> x509.Certificate:
        cert = self.server.certificate(name)
        assert cert is not None, name
        return cert

    def obtain(self, *names: str) -> tuple[int, x509.Certificate | None, str]:
        args = [a for n in names for a in ("-d", n)]
        result = self.client.run("obtain", *args, "--apache", *self.server.plugin_args())
        if result.returncode:
            return result.returncode, None, result.stderr
        return 0, load_chain(self.client.live(names[0]) / "cert.pem")[0], result.stderr


@pytest.fixture
def tree(pebble: Pebble) -> Iterator[Tree]:
    base = world_readable_dir("certbot-like-apache-split-")
    domain = unique_name("apsplit")
    names = {k: unique_name(k.lower()) for k in ("A", "B", "C", "OLD", "D", "E")}
    server = make_tree("debian", base / "apache", names, pebble.http_port)
    made = Tree(server, Client(pebble, base / "certbot"), domain)
    yield made
    server.stop()
    assert_no_secrets(made.client)
    shutil.rmtree(base, ignore_errors=True)


def d(tree: Tree, text: str) -> str:
    return text.replace("{d}", tree.domain)


@pytest.mark.parametrize(
    ("names", "requested", "others"),
    [
        ("ServerName a.{d}\nServerAlias *.{d}", ["www.{d}"], ["a.{d}", "x.{d}"]),
        ("ServerName a.{d}\nServerAlias b.{d} c.{d}", ["a.{d}", "c.{d}"], ["b.{d}"]),
    ],
    ids=["wildcard", "several-names"],
)
def test_after_the_first_virtualhost_the_copy_goes_before(
    tree: Tree, names: str, requested: list[str], others: list[str]
) -> None:
    tree.add_ssl_site([("first", d(tree, "ServerName first.{d}")), ("shared", d(tree, names))])
    tree.server.start()
    wanted, rest = [d(tree, n) for n in requested], [d(tree, n) for n in others]
    for name in [*wanted, *rest]:
        assert tree.served(name) == tree.certs["shared"], name

    code, new, err = tree.obtain(*wanted)

    assert code == 0, err
    for name in wanted:
        assert tree.served(name) == new, name
        assert tree.server.get(name, https=True)[1]["x-site"] == "shared"
    for name in rest:
        assert tree.served(name) == tree.certs["shared"], name
    assert tree.served("unknown.test") == tree.certs["first"]  # the default is unchanged
    assert tree.served(d(tree, "first.{d}")) == tree.certs["first"]


def test_the_default_virtualhost_keeps_being_the_default(tree: Tree) -> None:
    tree.add_ssl_site([("shared", d(tree, "ServerName a.{d}\nServerAlias b.{d} c.{d}"))])
    tree.server.start()
    assert tree.served("unknown.test") == tree.certs["shared"]

    code, new, err = tree.obtain(d(tree, "b.{d}"))

    assert code == 0, err
    assert tree.served(d(tree, "b.{d}")) == new
    for name in (d(tree, "a.{d}"), d(tree, "c.{d}"), "unknown.test"):
        assert tree.served(name) == tree.certs["shared"], name


def test_a_default_whose_wildcard_would_still_answer_is_refused(tree: Tree) -> None:
    site = tree.add_ssl_site([("shared", d(tree, "ServerName a.{d}\nServerAlias *.{d}"))])
    before = site.read_bytes()
    tree.server.start()

    code, _, err = tree.obtain(d(tree, "www.{d}"))

    assert code == 4, err
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "is the default VirtualHost of its address" in errors[0], err
    assert site.read_bytes() == before
    assert tree.served(d(tree, "www.{d}")) == tree.certs["shared"]
