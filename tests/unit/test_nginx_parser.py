"""Reading nginx configuration: crossplane's reading, with exact positions for edits."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import crossplane
import pytest
from certbot_like_nginx.lexer import LexError, check_against_crossplane, statements, tokenize
from certbot_like_nginx.parser import compare_with_dump, load
from crossplane.errors import NgxParserSyntaxError
from hypothesis import given, settings
from hypothesis import strategies as st

from certbot_like.errors import PluginError

TRICKY = """\
# comment with { braces } and "quotes ' ;
http {
    map $http_upgrade $conn { default upgrade; '' close; "~*{x}" y; }
    server { listen 80; server_name a.test; return 200 "a;b {c} # no comment"; }
    server {
        listen 8080 default_server;# touching comment }
        server_name ~^(?<sub>.+)\\.example\\.org$ .x.test;
        set $a "${b}c";
        set $e \\;escaped\\{;
        location ~* \\.(png|jpg)$ { return 404; }
        if ($http_x = "y") { return 403; }
        add_header X 'it\\'s' always;
        return 200 'multi
line';
    }
}
"""


def _crossplane_reading(text: str) -> tuple[list[tuple[str, int, bool]], dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "nginx.conf")
        with open(path, "w", newline="") as handle:
            handle.write(text)
        lexed = list(crossplane.lex(path))
        parsed = crossplane.parse(path, single=True, check_ctx=False, check_args=False)
    return lexed, parsed


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_tokens_and_statements_are_crossplanes(newline: str) -> None:
    text = TRICKY.replace("\n", newline)
    lexed, parsed = _crossplane_reading(text)
    tokens = tokenize(text)
    stmts = statements(tokens)
    config = parsed["config"][0]  # type: ignore[index]
    assert check_against_crossplane(tokens, lexed, stmts, config["parsed"]) is None


def test_every_token_knows_where_it_is() -> None:
    text = TRICKY
    for token in tokenize(text):
        raw = text[token.start : token.end]
        if token.quoted:
            assert raw[0] == raw[-1] and raw[0] in "\"'"
        else:
            assert raw == token.text
    http = statements(tokenize(text))[0]
    assert http.block is not None and http.open_brace is not None
    assert text[http.open_brace] == "{" and text[http.close_brace or 0] == "}"
    for stmt in http.block:
        assert text[stmt.start :].startswith(stmt.directive)
        assert text[stmt.end - 1] in ";}"


FRAGMENTS = st.sampled_from(
    [
        "server", "listen", "80", "a.test", "{", "}", ";", " ", "  ", "\n", "\r\n", "\t",
        "# note {", '"q u;o{te}"', "'it\\'s'", "\\;", "\\\"", "$var", "${var}", "x${y}z",
        "~^(?<n>a)$", "a#b", '"', "'", "\\", "é", "\\\n",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(FRAGMENTS, max_size=40))
def test_random_text_is_read_exactly_like_crossplane(parts: list[str]) -> None:
    text = "".join(parts)
    try:
        lexed, parsed = _crossplane_reading(text)
    except NgxParserSyntaxError:  # unbalanced braces: we refuse the text as well
        with pytest.raises(LexError):
            statements(tokenize(text))
        return
    tokens = tokenize(text)
    config = parsed["config"][0]  # type: ignore[index]
    if config["errors"]:
        with pytest.raises(LexError):
            statements(tokens)
        return
    try:
        stmts = statements(tokens)
    except LexError as exc:  # crossplane accepts `o { te }` and `;;`; nginx (and we) do not
        assert "is not terminated" in str(exc) or str(exc) in ('unexpected ";"', 'unexpected "{"')
        return
    assert check_against_crossplane(tokens, lexed, stmts, config["parsed"]) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server { listen 80; ", 'expecting "}"'),
        ("listen 80; }", 'unexpected "}"'),
        ("server { listen 80 }", "is not terminated"),
        ("listen 80", "unexpected end of file"),
    ],
)
def test_syntax_errors_are_reported_with_their_line(text: str, message: str) -> None:
    with pytest.raises(LexError, match=message) as raised:
        statements(tokenize(text))
    assert raised.value.line == 1


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


MAIN = """\
pid run/nginx.pid;
events {}
http {
    include conf.d/*.conf;
    include sites-enabled/*;
}
"""


def test_includes_are_followed_in_nginx_order_with_server_level_includes(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "nginx.conf": MAIN,
            "conf.d/b.conf": "server { listen 81; server_name b.test; }\n",
            "conf.d/a.conf": "server { listen 80; include snippets/names.conf; }\n",
            "snippets/names.conf": "server_name a.test www.a.test;\nlisten [::]:80;\n",
            "available/c": "server { server_name c.test; }\n",
            "stream.conf": "",
        },
    )
    (root / "sites-enabled").mkdir()
    (root / "sites-enabled" / "c").symlink_to(root / "available" / "c")
    config = load(root)
    assert [b.where for b in config.servers] == [
        "conf.d/a.conf:1",
        "conf.d/b.conf:1",
        "sites-enabled/c:1",
    ]
    first = config.servers[0]
    assert [(d.stmt.directive, d.included) for d in first.directives] == [
        ("listen", False),
        ("include", False),
        ("server_name", True),
        ("listen", True),
    ]
    servers = config.selection_servers()
    assert servers[0].names == ("a.test", "www.a.test")
    assert [str(i.address) for i in servers[0].listens] == ["*:80", "[::]:80"]
    assert [str(i.address) for i in servers[2].listens] == ["*:80"]  # no listen at all
    assert config.servers[2].file.real_path == str((root / "available" / "c").resolve())
    assert config.pid == "run/nginx.pid"
    assert config.http is not None and config.http[0].path == str(root / "nginx.conf")
    assert config.names() == {"a.test", "www.a.test", "b.test", "c.test"}


def test_servers_outside_http_are_not_web_servers(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "nginx.conf": "events {}\nstream { server { listen 5353; } }\n"
            "mail { server { listen 25; } }\nhttp { server { listen 80; } }\n"
        },
    )
    assert [b.where for b in load(root).servers] == ["nginx.conf:4"]


def test_an_unparseable_main_file_is_named(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"nginx.conf": "events {}\nhttp {\n  server {\n"})
    with pytest.raises(PluginError, match=r"Cannot parse .*nginx.conf:3"):
        load(root)


def test_no_nginx_conf_in_the_server_root(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"No nginx\.conf in"):
        load(tmp_path)


def test_an_unparseable_file_stops_only_what_it_may_concern(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _tree(
        tmp_path,
        {
            "nginx.conf": MAIN,
            "conf.d/good.conf": "server { listen 80; server_name good.test; }\n",
            "conf.d/broken.conf": "server {\n listen 80;\n server_name broken.test;\n",
        },
    )
    config = load(root)
    assert [b.where for b in config.servers] == ["conf.d/good.conf:1"]
    [item] = config.unparsed
    assert item.path.endswith("conf.d/broken.conf")
    with caplog.at_level(logging.WARNING):
        config.check_unparsed(["good.test"])
    assert "conf.d/broken.conf" in caplog.text
    with pytest.raises(PluginError, match=r"broken.conf.*mentions broken.test"):
        config.check_unparsed(["broken.test", "*.good.test"])


def test_what_nginx_loads_is_compared_with_what_crossplane_read(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"nginx.conf": "events {}\nhttp {}\n"})
    config = load(root)
    compare_with_dump(config, [str(root / "nginx.conf")])
    assert config.unparsed == []
    compare_with_dump(config, [str(root / "nginx.conf"), "/etc/nginx/extra.conf"])
    assert [u.path for u in config.unparsed] == ["/etc/nginx/extra.conf"]
    with pytest.raises(PluginError, match=r"nginx loads /etc/nginx/nginx\.conf, not"):
        compare_with_dump(config, ["/etc/nginx/nginx.conf"])
