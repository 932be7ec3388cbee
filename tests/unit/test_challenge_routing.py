"""``fleet route-challenges``' pure parts: the upstream URL from ``--listen`` and the nginx
plan (which blocks get the location, what counts as already routed or as a conflict),
on configurations parsed from files (no nginx needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from certbot_like_nginx import parser
from certbot_like_nginx.routing import exemption_line, location_line, plan_route

from certbot_like.errors import InstallerError, UsageError
from certbot_like.services.fleet_challenges import upstream_for

UP = "http://127.0.0.1:8402"


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:8402", "http://127.0.0.1:8402"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("10.0.0.11:8402", "http://10.0.0.11:8402"),
        ("[::]:8402", "http://[::1]:8402"),
        ("[fd00::5]:80", "http://[fd00::5]:80"),
    ],
)
def test_the_upstream_is_where_serve_challenges_listens_loopback_for_any(
    listen: str, url: str
) -> None:
    assert upstream_for(listen) == url


def test_a_malformed_listen_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        upstream_for("localhost")


def config(tmp_path: Path, servers: str, extra: dict[str, str] | None = None) -> parser.NginxConfig:
    (tmp_path / "nginx.conf").write_text(f"events {{}}\nhttp {{\n{servers}\n}}\n")
    for name, text in (extra or {}).items():
        (tmp_path / name).write_text(text)
    return parser.load(tmp_path)


TWO = """\
server { listen 80; server_name a.test; location / { root /srv; } }
server { listen 80 default_server; server_name _; return 404; }
server { listen 443 ssl; server_name a.test b.test; }
"""


def test_the_blocks_answering_the_names_on_the_http_port_get_the_location(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path, TWO)
    route = plan_route(cfg, ["a.test", "b.test"], 80, UP)  # b.test: the default server
    assert len(route.changed) == 2 and route.already == []
    (text,) = route.plan.texts().values()
    assert text.count(location_line(UP)) == 2


def test_a_block_holding_the_same_location_is_left_alone(tmp_path: Path) -> None:
    routed = TWO.replace("location / ", f"{location_line(UP)}\n location / ", 1)
    route = plan_route(config(tmp_path, routed), ["a.test"], 80, UP)
    assert route.changed == [] and len(route.already) == 1 and route.plan.texts() == {}


def test_only_blocks_that_redirect_at_server_level_get_the_exemption_first(
    tmp_path: Path,
) -> None:
    redirecting = TWO.replace(
        "server_name a.test; location",
        'server_name a.test; if ($scheme != "https") { return 301 https://$host; } location',
        1,
    )
    route = plan_route(config(tmp_path, redirecting), ["a.test", "b.test"], 80, UP)
    (text,) = route.plan.texts().values()
    # a.test's `if` and the default server's `return 404` both run before any location
    assert text.count(exemption_line()) == 2
    first = text.index("server_name a.test")
    assert text.index(exemption_line(), 0) < first  # a.test's exemption opens its block
    again = plan_route(config(tmp_path, text.split("http {\n", 1)[1].rsplit("}", 1)[0]),
                       ["a.test", "b.test"], 80, UP)  # fmt: skip
    assert again.changed == [] and again.plan.texts() == {}
    plain = plan_route(config(tmp_path, TWO), ["a.test"], 80, UP)
    assert exemption_line() not in next(iter(plain.plan.texts().values()))


@pytest.mark.parametrize(
    "location",
    [
        "location ^~ /.well-known/acme-challenge/ { proxy_pass http://127.0.0.1:9999; }",
        "location /.well-known/acme-challenge/ { root /srv/acme; }",
        "location ~ ^/.well-known/acme-challenge/ { return 404; }",
        "include acme.conf;",
    ],
)
def test_another_location_for_the_path_is_a_conflict(tmp_path: Path, location: str) -> None:
    acme = {"acme.conf": "location /.well-known/acme-challenge/ { root /x; }\n"}
    cfg = config(tmp_path, TWO.replace("location / ", f"{location}\n location / ", 1), acme)
    with pytest.raises(InstallerError, match="already has `location"):
        plan_route(cfg, ["a.test"], 80, UP)


def test_nothing_on_the_http_port_is_an_error(tmp_path: Path) -> None:
    cfg = config(tmp_path, "server { listen 443 ssl; server_name a.test; }")
    with pytest.raises(InstallerError, match="over plain HTTP on port 80"):
        plan_route(cfg, ["a.test"], 80, UP)
