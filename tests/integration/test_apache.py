"""The apache plugin end to end: a real apache2 on generated Debian and RHEL trees, the
session Pebble validating through it, and what a user then sees over HTTP and HTTPS.

Apache's HTTP VirtualHosts listen on ``pebble.http_port`` (where Pebble's validator
connects for every name), HTTPS on a free port; certbot-like reaches both through
``--http-01-port``/``--https-port`` and drives Apache through the tree's ``ctl`` script.
"""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509

from certbot_like.storage.layout import Layout
from tests.harness.apache import ApacheServer, make_tree, world_readable_dir
from tests.harness.lineages import make_lineages
from tests.harness.servers import Pebble
from tests.integration.checks import load_chain
from tests.integration.conftest import Client, Result, assert_no_secrets, unique_name

Site = Callable[[str], tuple[ApacheServer, Client]]
SITES = ("A", "B", "C", "OLD", "D", "E")


@pytest.fixture
def apache_site(pebble: Pebble) -> Iterator[Site]:
    """Make an apache2 on a fresh tree (``debian`` or ``rhel``) with unique site names and
    a certbot-like client whose directories Apache's user can read."""
    made: list[tuple[ApacheServer, Client, Path]] = []

    def make(layout: str) -> tuple[ApacheServer, Client]:
        base = world_readable_dir("certbot-like-apache-")
        names = {key: unique_name(key.lower()) for key in SITES}
        server = make_tree(layout, base / "apache", names, pebble.http_port)
        client = Client(pebble, base / "certbot")
        made.append((server, client, base))
        server.start()
        return server, client

    yield make
    for server, client, base in made:
        server.stop()
        assert_no_secrets(client)
        shutil.rmtree(base, ignore_errors=True)


def run(client: Client, command: str, *args: str, register: bool = False) -> Result:
    return client.run(command, *args, register=register)


def serial_of(live: Path) -> int:
    return load_chain(live / "cert.pem")[0].serial_number


def serves(server: ApacheServer, name: str, serial: int, root: bytes | None) -> x509.Certificate:
    """Poll until HTTPS presents *serial* for SNI *name* (verified against *root*)."""
    cert = server.wait_for_certificate(
        name, lambda c: c is not None and c.serial_number == serial, root_pem=root
    )
    assert cert is not None, f"no verified HTTPS certificate for {name}"
    assert cert.serial_number == serial, f"{name} is served serial {cert.serial_number:x}"
    return cert


def assert_only_added(before: bytes | str, after: bytes) -> list[str]:
    """Every original line is still there, unchanged and in order; returns the new lines."""
    assert isinstance(before, bytes)
    old, new = before.decode().splitlines(), after.decode().splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    added: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        assert tag in ("equal", "insert"), f"original lines changed: {old[i1:i2]} -> {new[j1:j2]}"
        added += new[j1:j2] if tag == "insert" else []
    return added


def all_text(server: ApacheServer) -> str:
    return "".join(v.decode() for v in server.snapshot().values() if isinstance(v, bytes))


def test_obtain_debian_https_redirect_hsts_then_rollback(apache_site: Site, pebble: Pebble) -> None:
    server, client = apache_site("debian")
    shop, www = server.names["A"], "www." + server.names["A"]
    before = server.snapshot()

    result = run(
        client, "obtain", "-d", shop, "-d", www, "--apache", *server.plugin_args(),
        "--redirect", "--hsts", register=True,
    )  # fmt: skip

    assert result.returncode == 0, result
    root = pebble.root_pem()
    serial = serial_of(client.live(shop))
    for name in (shop, www):
        serves(server, name, serial, root)
    status, headers, body = server.get(shop, "/", https=True)
    assert (status, body) == (200, b"site a\n")
    assert headers["strict-transport-security"] == "max-age=31536000"
    status, headers, _ = server.get(www, "/cart?item=1")
    assert status == 301
    assert headers["location"] == f"https://{www}:{server.https_port}/cart?item=1"
    status, _, body = server.get(server.names["B"])  # the other site in shop.conf
    assert (status, body) == (200, b"site b\n")
    # the SSL copy sits next to shop.conf and is enabled the a2ensite way; modules a2enmod's
    tree = server.root
    assert os.readlink(tree / "sites-enabled/shop-le-ssl.conf") == (
        "../sites-available/shop-le-ssl.conf"
    )
    for module in ("ssl", "socache_shmcb", "headers"):
        link = os.readlink(tree / f"mods-enabled/{module}.load")
        assert link == f"../mods-available/{module}.load"
    copy = (tree / "sites-available/shop-le-ssl.conf").read_text()
    assert f"SSLCertificateFile {client.live(shop)}/fullchain.pem" in copy
    assert f"Include {client.config_dir}/options-ssl-apache.conf" in copy
    added = assert_only_added(
        before["sites-available/shop.conf"], (tree / "sites-available/shop.conf").read_bytes()
    )
    assert added[0] == "    RewriteEngine on" and "R=permanent" in added[-1]
    # the unrelated file Augeas cannot parse was named and left alone
    assert "legacy.conf" in result.stdout + result.stderr
    assert (tree / "sites-available/legacy.conf").read_bytes() == before[
        "sites-available/legacy.conf"
    ]
    # the temporary challenge configuration is gone
    assert "apache-challenge" not in all_text(server)
    assert not (client.work_dir / "apache-challenge").exists()

    # renewal validates through Apache although HTTP now redirects, then reloads
    renewed = run(client, "renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert renewed.returncode == 0, renewed
    assert serial_of(client.live(shop)) != serial
    serves(server, www, serial_of(client.live(shop)), root)

    undo = run(client, "rollback", "--apache", *server.plugin_args())

    assert undo.returncode == 0, undo
    assert server.snapshot() == before
    assert server.get(shop)[:1] == (200,)
    assert server.certificate(shop) is None  # mod_ssl is off again: nothing on the HTTPS port
    assert server.running


def test_rhel_certonly_obtain_and_renew_reloads(apache_site: Site, pebble: Pebble) -> None:
    server, client = apache_site("rhel")
    site, other = server.names["D"], server.names["E"]
    before = server.snapshot()

    only = run(client, "certonly", "-d", other, "--apache", *server.plugin_args(), register=True)

    assert only.returncode == 0, only
    assert server.snapshot() == before  # certonly authenticates through Apache, nothing stays
    result = run(
        client, "obtain", "-d", site, "-d", "www." + site, "--apache", *server.plugin_args()
    )
    assert result.returncode == 0, result
    root = pebble.root_pem()
    first = serial_of(client.live(site))
    serves(server, site, first, root)
    tree = server.root
    modules = (tree / "conf.modules.d/00-certbot-like.conf").read_text()
    assert "LoadModule ssl_module modules/mod_ssl.so" in modules
    assert "LoadModule socache_shmcb_module modules/mod_socache_shmcb.so" in modules
    added = assert_only_added(before["conf/httpd.conf"], (tree / "conf/httpd.conf").read_bytes())
    assert added == ["<IfModule mod_ssl.c>", f"    Listen {server.https_port} https", "</IfModule>"]
    assert (tree / "conf.d/sites-le-ssl.conf").is_file()
    installed = server.snapshot()

    renewed = run(client, "renew", "--force-renewal", "--no-random-sleep-on-renew")

    assert renewed.returncode == 0, renewed
    second = serial_of(client.live(site))
    assert second != first
    serves(server, site, second, root)
    assert server.snapshot() == installed  # renewal only reloads
    assert server.get(site)[:1] == (200,)


def test_installer_with_webroot_failing_configtest_then_install(
    apache_site: Site, pebble: Pebble
) -> None:
    server, client = apache_site("debian")
    shop, blog = server.names["A"], server.names["C"]
    result = run(
        client, "obtain", "-d", shop, "--webroot", "-w", str(server.root / "www/a"),
        "--installer", "apache", *server.plugin_args(), register=True,
    )  # fmt: skip
    assert result.returncode == 0, result
    root = pebble.root_pem()
    shop_serial = serial_of(client.live(shop))
    serves(server, shop, shop_serial, root)
    make_lineages(Layout(client.config_dir, client.work_dir, client.logs_dir), [blog],
                  {"authenticator": "webroot", "server": pebble.directory_url})  # fmt: skip
    (server.root / "conf-enabled/zz-admin.conf").write_text("ThisIsNotADirective on\n")
    broken = server.snapshot()

    failed = run(client, "install", "--cert-name", blog, "--apache", *server.plugin_args())
    refused = run(client, "certonly", "-d", "new." + blog, "--apache", *server.plugin_args())

    assert failed.returncode == 4, failed
    assert "configuration test failed" in failed.stderr
    assert "ThisIsNotADirective" in failed.stderr
    assert refused.returncode == 4, refused
    assert "rejects the temporary challenge configuration" in refused.stderr
    assert server.snapshot() == broken
    assert server.running
    serves(server, shop, shop_serial, root)
    assert server.get(blog)[2] == b"site c\n"

    (server.root / "conf-enabled/zz-admin.conf").unlink()
    fixed = run(client, "install", "--cert-name", blog, "--apache", *server.plugin_args())

    assert fixed.returncode == 0, fixed
    serves(server, blog, serial_of(client.live(blog)), None)
    serves(server, shop, shop_serial, root)


def test_install_chooses_by_wildcard_and_refuses_ambiguity(apache_site: Site) -> None:
    server, client = apache_site("debian")
    layout = Layout(client.config_dir, client.work_dir, client.logs_dir)
    sister = "shop." + server.names["B"]  # only matched by ServerAlias *.B in shop.conf
    shop = server.names["A"]
    make_lineages(layout, [sister, shop], {"authenticator": "webroot"})
    (server.root / "sites-available/clone.conf").write_text(
        f"<VirtualHost *:{server.http_port}>\n    ServerName clone.invalid\n"
        f"    ServerAlias {shop}\n</VirtualHost>\n"
    )
    (server.root / "sites-enabled/clone.conf").symlink_to("../sites-available/clone.conf")
    before = server.snapshot()

    ambiguous = run(client, "install", "--cert-name", shop, "--apache", *server.plugin_args())

    assert ambiguous.returncode == 4, ambiguous
    assert "clone.conf" in ambiguous.stderr and "shop.conf" in ambiguous.stderr
    assert server.snapshot() == before

    wildcard = run(client, "install", "--cert-name", sister, "--apache", *server.plugin_args())

    assert wildcard.returncode == 0, wildcard
    serves(server, sister, serial_of(client.live(sister)), None)
    status, _, body = server.get(sister, https=True)
    assert (status, body) == (200, b"site b\n")


def test_name_whose_vhost_augeas_cannot_parse_is_refused(apache_site: Site) -> None:
    server, client = apache_site("debian")
    before = server.snapshot()

    result = run(
        client, "certonly", "-d", server.names["OLD"], "--apache", *server.plugin_args(),
        register=True,
    )  # fmt: skip

    assert result.returncode == 4, result
    assert "legacy.conf" in result.stderr and "Augeas cannot parse" in result.stderr
    assert server.snapshot() == before
    assert server.get(server.names["OLD"])[2] == b"site old\n"
