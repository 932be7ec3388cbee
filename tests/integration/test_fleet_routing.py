"""End to end: ``fleet route-challenges`` makes a real nginx or apache2 on Pebble's HTTP-01
port hand ``/.well-known/acme-challenge/`` to the node's ``fleet serve-challenges``, which
answers from the fleet's PostgreSQL store; Pebble then validates an ``--fleet-http``
issuance through the web server. Also: a second run changes nothing, a site that already
sends the path elsewhere is a conflict (exit 4, files byte for byte unchanged), and
``rollback`` takes the route out again."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.apache import ApacheServer, make_tree, world_readable_dir
from tests.harness.clirun import CliProcess
from tests.harness.nginx import NginxServer, get
from tests.harness.postgres import Postgres
from tests.harness.servers import Pebble, free_port, wait_until
from tests.integration.conftest import unique_name
from tests.integration.fleet_fixtures import (  # noqa: F401
    Node,
    db_rows,
    make_nodes,
    postgres,
    store_url,
)

SITE = """\
server {
    listen {http};
    server_name {name};
    root {prefix}/www;
    location / {
        try_files $uri $uri/ =404;
    }
}
"""

TAKEN = """\
server {
    listen {http};
    server_name {name};
    root {prefix}/www;
    location /.well-known/acme-challenge/ {
        root {prefix}/acme;
    }
}
"""


class Challenges:
    """A node and its running ``fleet serve-challenges``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.port = free_port()
        self.listen = f"127.0.0.1:{self.port}"
        self.proc: CliProcess = node.start("fleet", "serve-challenges", "--listen", self.listen)
        wait_until(self._listening, 20, "fleet serve-challenges")

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def route(self, *args: str) -> tuple[int, dict[str, Any], str]:
        result = self.node.fleet("route-challenges", *args, "--listen", self.listen, "--json")
        doc = json.loads(result.stdout) if result.returncode == 0 else {}
        return result.returncode, doc, result.stderr

    def publish(self) -> tuple[str, str]:
        """A token and key authorization written straight into the store."""
        token = secrets.token_urlsafe(16)
        answer = f"{token}.{secrets.token_urlsafe(32)}"
        db_rows(
            self.node.url,
            "INSERT INTO cl_challenges (token, key_authorization, expires_at) "
            "VALUES (%s, %s, now() + interval '10 minutes') RETURNING token",
            token,
            answer,
        )
        return token, answer

    def stop(self) -> None:
        self.proc.proc.send_signal(signal.SIGTERM)
        assert self.proc.finish().returncode == 0


@pytest.fixture
def challenges(
    pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
) -> Iterator[Challenges]:
    (node,) = make_nodes(pebble, store_url, tmp_path, postgres, 1)
    served = Challenges(node)
    yield served
    served.stop()


@pytest.fixture
def nginx(pebble: Pebble, tmp_path: Path) -> Iterator[NginxServer]:
    server = NginxServer.create(tmp_path / "nginx", pebble.http_port, free_port())
    yield server
    server.stop()


def _path(token: str) -> str:
    return f"/.well-known/acme-challenge/{token}"


def test_nginx_routes_the_challenge_path_to_serve_challenges_and_pebble_validates_through_it(
    challenges: Challenges, nginx: NginxServer
) -> None:
    name = unique_name("route")
    site = nginx.write_site(name, SITE.replace("{name}", name))
    before = site.read_bytes()
    nginx.start()
    token, answer = challenges.publish()
    assert get(nginx.http_port, name, _path(token))[0] == 404  # not routed yet

    code, doc, err = challenges.route("--nginx", *nginx.plugin_args(), "-d", name)

    assert code == 0, err
    assert doc["upstream"] == f"http://{challenges.listen}" and len(doc["changed"]) == 1
    status, _, body = get(nginx.http_port, name, _path(token))
    assert (status, body.decode()) == (200, answer)
    assert get(nginx.http_port, name, "/")[0] == 200  # the site itself is untouched
    routed = site.read_bytes()
    assert routed.startswith(before[: before.rindex(b"}")])  # only a line added at the end

    again = challenges.route("--nginx", *nginx.plugin_args(), "-d", name)
    assert again[:2] == (0, {**doc, "changed": []})
    assert site.read_bytes() == routed

    made = challenges.node.run("obtain", "-d", name, "--fleet-http", register=True)
    assert made.returncode == 0, made
    access = (nginx.prefix / "logs" / "access.log").read_text()
    assert access.count("/.well-known/acme-challenge/") >= 2  # ours and Pebble's
    assert db_rows(challenges.node.url, "SELECT name FROM cl_lineages") == [(name,)]

    back = challenges.node.client.run_raw(
        ["rollback", *challenges.node.client.base_args(), "--nginx", *nginx.plugin_args()]
    )
    assert back.returncode == 0, back
    assert site.read_bytes() == before
    assert get(nginx.http_port, name, _path(token))[0] == 404


def test_nginx_with_another_challenge_location_is_a_conflict_and_stays_unchanged(
    challenges: Challenges, nginx: NginxServer
) -> None:
    name = unique_name("taken")
    site = nginx.write_site(name, TAKEN.replace("{name}", name))
    before = site.read_bytes()
    nginx.start()

    code, _, err = challenges.route("--nginx", *nginx.plugin_args(), "-d", name)

    assert code == 4
    (line,) = err.strip().splitlines()
    assert "already has `location /.well-known/acme-challenge/`" in line, line
    assert "nothing was changed" in line
    assert site.read_bytes() == before


def test_nginx_without_a_plain_http_block_for_the_name_says_so(
    challenges: Challenges, nginx: NginxServer
) -> None:
    nginx.write_site("other", SITE.replace("{name}", "other.test").replace("{http}", "{https}"))
    nginx.start(wait_port=nginx.https_port)
    code, _, err = challenges.route("--nginx", *nginx.plugin_args(), "-d", "nowhere.test")
    assert code == 4
    assert "No server block answers nowhere.test over plain HTTP" in err


@pytest.fixture
def apache(pebble: Pebble) -> Iterator[ApacheServer]:
    base = world_readable_dir("certbot-like-route-")
    names = {key: unique_name(key.lower()) for key in ("A", "B", "C", "OLD", "D", "E")}
    server = make_tree("debian", base / "apache", names, pebble.http_port)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_apache_routes_the_challenge_path_with_mod_proxy_and_pebble_validates_through_it(
    challenges: Challenges, apache: ApacheServer
) -> None:
    name = apache.names["A"]  # the shop's VirtualHost (its ServerAlias www. stays as it is)
    shop = apache.root / "sites-available" / "shop.conf"
    before = apache.snapshot()
    token, answer = challenges.publish()
    assert apache.get(name, _path(token))[0] == 404

    code, doc, err = challenges.route("--apache", *apache.plugin_args(), "-d", name)

    assert code == 0, err
    assert len(doc["changed"]) == 1 and "shop.conf" in str(doc["changed"])
    status, _, body = apache.get(name, _path(token))
    assert (status, body.decode()) == (200, answer)
    assert apache.get(name, "/")[:1] == (200,)
    for module in ("proxy", "proxy_http"):
        assert (apache.root / "mods-enabled" / f"{module}.load").is_symlink()
    expected = f"ProxyPass /.well-known/acme-challenge/ http://{challenges.listen}"
    assert f"{expected}/.well-known/acme-challenge/" in shop.read_text()
    routed = apache.snapshot()

    again = challenges.route("--apache", *apache.plugin_args(), "-d", name)
    assert again[:2] == (0, {**doc, "changed": []})
    assert apache.snapshot() == routed

    made = challenges.node.run("obtain", "-d", name, "--fleet-http", register=True)
    assert made.returncode == 0, made

    back = challenges.node.client.run_raw(
        ["rollback", *challenges.node.client.base_args(), "--apache", *apache.plugin_args()]
    )
    assert back.returncode == 0, back
    assert apache.snapshot() == before


def test_apache_with_another_challenge_alias_is_a_conflict_and_stays_unchanged(
    challenges: Challenges, apache: ApacheServer
) -> None:
    blog = apache.root / "sites-available" / "shop.conf"
    text = blog.read_text()
    marker = "    DocumentRoot"
    blog.write_text(
        text.replace(
            marker, f"    Alias /.well-known/acme-challenge/ {apache.root}/www/d/\n{marker}", 1
        )
    )
    before = apache.snapshot()
    name = apache.names["A"]

    code, _, err = challenges.route("--apache", *apache.plugin_args(), "-d", name)

    assert code == 4  # (the tree's unparseable legacy.conf is named on a line of its own)
    (line,) = [x for x in err.splitlines() if x.startswith("Error:")]
    assert "already has `Alias /.well-known/acme-challenge/" in line, line
    assert apache.snapshot() == before


REDIRECTING = """\
server {
    listen {http};
    server_name {name};
    return 301 https://$host$request_uri;
}
"""


def test_nginx_routes_past_a_server_level_redirect_to_https(
    challenges: Challenges, nginx: NginxServer
) -> None:
    """nginx runs a server-level ``return`` before it picks a location: the block also gets
    an ``if ... { break; }`` for the challenge path, first, and everything else still
    redirects."""
    name = unique_name("redirected")
    nginx.write_site(name, REDIRECTING.replace("{name}", name))
    nginx.start()
    token, answer = challenges.publish()
    code, doc, err = challenges.route("--nginx", *nginx.plugin_args(), "-d", name)
    assert code == 0 and len(doc["changed"]) == 1, err
    status, _, body = get(nginx.http_port, name, _path(token))
    assert (status, body.decode()) == (200, answer)
    assert get(nginx.http_port, name, "/")[0] == 301
    assert get(nginx.http_port, name, "/.well-known/acme-challengeX")[0] == 301
    again = challenges.route("--nginx", *nginx.plugin_args(), "-d", name)
    assert again[0] == 0 and again[1]["changed"] == [], again


def test_apache_routes_ahead_of_a_rewrite_redirect_to_https(
    challenges: Challenges, apache: ApacheServer
) -> None:
    """mod_proxy maps the path before mod_rewrite's rules run, so a VirtualHost that
    redirects everything to HTTPS (as ``--redirect`` writes it) still answers challenges."""
    name = apache.names["A"]
    shop = apache.root / "sites-available" / "shop.conf"
    redirect = (
        "    RewriteEngine on\n"
        "    RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI} [END,NE,R=permanent]\n"
    )
    shop.write_text(shop.read_text().replace("    DocumentRoot", redirect + "    DocumentRoot", 1))
    token, answer = challenges.publish()
    code, _, err = challenges.route("--apache", *apache.plugin_args(), "-d", name)
    assert code == 0, err
    assert apache.get(name, "/")[0] == 301  # the redirect is live (Apache was reloaded)
    status, _, body = apache.get(name, _path(token))
    assert (status, body.decode()) == (200, answer)
    routed = apache.snapshot()
    again = challenges.route("--apache", *apache.plugin_args(), "-d", name)
    assert again[0] == 0 and again[1]["changed"] == []
    assert apache.snapshot() == routed
