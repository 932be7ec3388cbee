"""End to end: the nginx plugin against a real nginx and the session Pebble.

Each test starts its own nginx (milliseconds) from a generated Debian-style tree: plain
HTTP on the port Pebble validates HTTP-01 on, HTTPS on a free port. What is checked is what
a user sees: the certificate nginx presents in a TLS handshake with SNI, the 301 of a plain
HTTP request, the HSTS header, the configuration files byte for byte.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from certbot_like.storage.renewal_conf import read_renewal_conf
from tests.harness.nginx import NginxServer, get, peer_certificate, self_signed
from tests.harness.servers import Pebble, free_port
from tests.integration.checks import assert_lineage, load_chain
from tests.integration.conftest import Client, unique_name

SITE = """\
# {name}: the public web site
server {
    listen {http};
    listen [::]:{http};
    server_name {name} www.{name};   # both names

    root {prefix}/www;
    index index.html;

    location / {
        try_files $uri $uri/ =404;
    }
}

server {
    listen {http} default_server;
    server_name _;
    return 404;
}
"""

OLD_HTTPS = """\
server {
    listen {https} ssl;
    server_name {name};
    ssl_certificate {prefix}/old.pem;
    ssl_certificate_key {prefix}/old.key;
    root {prefix}/www;
}
"""


@pytest.fixture
def nginx(pebble: Pebble, tmp_path: Path) -> Iterator[NginxServer]:
    """An nginx tree for one test (started by the test once its sites are written)."""
    server = NginxServer.create(tmp_path / "nginx", pebble.http_port, free_port())
    yield server
    server.stop()


def served(nginx: NginxServer, name: str, host: str = "127.0.0.1") -> x509.Certificate:
    return x509.load_der_x509_certificate(peer_certificate(nginx.https_port, name, host))


def leaf(client: Client, name: str) -> x509.Certificate:
    return load_chain(client.live(name) / "cert.pem")[0]


def https_refused(nginx: NginxServer) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", nginx.https_port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def assert_lines_kept(before: str, after: str) -> None:
    """Every line of *before* is still in *after*, in order (the plugin only added lines)."""
    remaining = iter(after.splitlines())
    for line in before.splitlines():
        assert any(line == other for other in remaining), f"line lost or changed: {line!r}"


def test_obtain_validates_through_nginx_and_installs_with_redirect_and_hsts(
    client: Client, pebble: Pebble, nginx: NginxServer
) -> None:
    name = unique_name("ngx")
    site = nginx.write_site(name, SITE.replace("{name}", name))
    before = site.read_text()
    nginx.start()

    result = client.run(
        "obtain",
        "-d",
        name,
        "-d",
        f"www.{name}",
        "--nginx",
        *nginx.plugin_args(),
        "--redirect",
        "--hsts",
    )

    assert result.returncode == 0, result
    cert = assert_lineage(client.live(name), {name, f"www.{name}"}, pebble.root_pem())
    assert served(nginx, name) == cert
    assert served(nginx, f"www.{name}") == cert
    assert served(nginx, name, host="::1") == cert  # the block listened on IPv6 too
    status, headers, _ = get(nginx.http_port, name, "/page?q=1")
    assert status == 301
    assert headers["location"] == f"https://{name}:{nginx.https_port}/page?q=1"
    status, headers, body = get(nginx.https_port, f"www.{name}", tls=True)
    assert (status, body) == (200, b"hello from nginx\n")
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert get(nginx.http_port, "unrelated.test")[0] == 404  # the catch-all is not redirected
    after = site.read_text()
    assert_lines_kept(before, after)
    assert "acme-challenge" not in after  # the temporary challenge lines are gone
    conf = read_renewal_conf(client.config_dir / "renewal" / f"{name}.conf")
    assert conf.params.get("authenticator") == "nginx"
    assert conf.params.get("installer") == "nginx"
    assert conf.params.get("nginx_server_root") == str(nginx.prefix)
    assert conf.params.get("https_port") == str(nginx.https_port)


def test_certonly_changes_nothing_then_install_and_rollback(
    client: Client, nginx: NginxServer
) -> None:
    name = unique_name("ngx")
    site = nginx.write_site(name, SITE.replace("{name}", name))
    before = site.read_bytes()
    nginx.start()

    result = client.run("certonly", "-d", name, "--nginx", *nginx.plugin_args())
    assert result.returncode == 0, result
    assert site.read_bytes() == before
    assert https_refused(nginx)

    result = client.run(
        "install", "--cert-name", name, "--nginx", *nginx.plugin_args(), register=False
    )
    assert result.returncode == 0, result
    assert served(nginx, name) == leaf(client, name)
    assert list((client.work_dir / "nginx-backups").glob("*-install/manifest.json"))

    result = client.run("rollback", "--nginx", *nginx.plugin_args(), register=False)
    assert result.returncode == 0, result
    assert "Rolled back: deployment of" in result.stdout
    assert site.read_bytes() == before
    assert https_refused(nginx)
    assert get(nginx.http_port, name)[0] == 200

    again = client.run("rollback", "--nginx", *nginx.plugin_args(), register=False)
    assert again.returncode == 4, again
    assert "Nothing to roll back" in again.stderr


def test_nginx_t_failure_restores_every_byte_and_the_old_certificate_keeps_serving(
    client: Client, nginx: NginxServer
) -> None:
    name = unique_name("ngx")
    self_signed(nginx.prefix / "old.pem", nginx.prefix / "old.key", (name,))
    site = nginx.write_site(name, SITE.replace("{name}", name) + OLD_HTTPS.replace("{name}", name))
    before = site.read_bytes()
    # An options file edited by hand (so kept) with a value nginx rejects: only including
    # it in a server block makes `nginx -t` fail.
    client.config_dir.mkdir(parents=True)
    (client.config_dir / "options-ssl-nginx.conf").write_text("ssl_session_timeout forever;\n")
    nginx.start()
    old_cert = served(nginx, name)

    result = client.run("obtain", "-d", name, "--nginx", *nginx.plugin_args())

    assert result.returncode == 4, result
    assert "nginx -t rejects the configuration" in result.stderr
    assert '"ssl_session_timeout" directive invalid value' in result.stderr
    assert "options-ssl-nginx.conf:1" in result.stderr  # nginx names the file and line
    assert site.read_bytes() == before
    assert served(nginx, name) == old_cert
    assert (client.live(name) / "fullchain.pem").exists()  # the certificate is kept


def test_renew_validates_past_the_redirect_and_reloads_with_the_new_certificate(
    client: Client, nginx: NginxServer
) -> None:
    name = unique_name("ngx")
    site = nginx.write_site(name, SITE.replace("{name}", name))
    nginx.start()
    result = client.run("obtain", "-d", name, "--nginx", *nginx.plugin_args(), "--redirect")
    assert result.returncode == 0, result
    first = served(nginx, name)
    installed = site.read_bytes()
    assert get(nginx.http_port, name)[0] == 301  # HTTP-01 must now pass the redirect

    result = client.run("renew", "--force-renewal", "--no-random-sleep-on-renew", register=False)

    assert result.returncode == 0, result
    now = served(nginx, name)
    assert now != first
    assert now == leaf(client, name)
    assert site.read_bytes() == installed  # renewal reloads, it does not edit


def test_webroot_authenticator_with_the_nginx_installer(client: Client, nginx: NginxServer) -> None:
    name = unique_name("ngx")
    nginx.write_site(name, SITE.replace("{name}", name))
    nginx.start()

    result = client.run(
        "obtain",
        "-d",
        name,
        "--webroot",
        "-w",
        str(nginx.prefix / "www"),
        "--installer",
        "nginx",
        *nginx.plugin_args(),
    )

    assert result.returncode == 0, result
    assert served(nginx, name) == leaf(client, name)
    conf = read_renewal_conf(client.config_dir / "renewal" / f"{name}.conf")
    assert (conf.params.get("authenticator"), conf.params.get("installer")) == ("webroot", "nginx")


def test_temporary_server_block_answers_when_nothing_listens_for_http(
    client: Client, nginx: NginxServer
) -> None:
    name = unique_name("ngx")
    self_signed(nginx.prefix / "old.pem", nginx.prefix / "old.key", (name,))
    site = nginx.write_site(name, OLD_HTTPS.replace("{name}", name))
    main_before = (nginx.prefix / "nginx.conf").read_bytes()
    nginx.start(wait_port=nginx.https_port)

    result = client.run("obtain", "-d", name, "--nginx", *nginx.plugin_args())

    assert result.returncode == 0, result
    assert served(nginx, name) == leaf(client, name)
    assert (nginx.prefix / "nginx.conf").read_bytes() == main_before
    assert "old.pem" not in site.read_text()
    with pytest.raises(ConnectionRefusedError):  # the temporary HTTP server is gone
        socket.create_connection(("127.0.0.1", nginx.http_port), timeout=2).close()


def test_a_reload_nginx_cannot_apply_is_undone(client: Client, nginx: NginxServer) -> None:
    name = unique_name("ngx")
    site = nginx.write_site(
        name, SITE.replace("{name}", name).replace("    listen [::]:{http};\n", "")
    )
    before = site.read_bytes()
    nginx.start()
    with socket.socket() as squatter:  # nginx -t passes, but the reload cannot bind
        squatter.bind(("0.0.0.0", nginx.https_port))  # noqa: S104
        squatter.listen(1)

        result = client.run(
            "obtain", "-d", name, "--nginx", *nginx.plugin_args(), "--nginx-sleep-seconds", "1"
        )

        assert result.returncode == 4, result
        assert "kept its previous configuration" in result.stderr
        assert site.read_bytes() == before
        assert "Address already in use" in nginx.error_log()
        assert get(nginx.http_port, name)[0] == 200
        assert nginx.running
