"""Text edits that leave every untouched byte alone."""

from __future__ import annotations

import pytest
from certbot_like_nginx import editor
from certbot_like_nginx.editor import Change
from certbot_like_nginx.lexer import Statement, statements, tokenize
from hypothesis import assume, given, settings
from hypothesis import strategies as st


def block(text: str, index: int = 0) -> Statement:
    return statements(tokenize(text))[index]


def child(text: str, name: str) -> Statement:
    found = [s for s in block(text).block or () if s.directive == name]
    return found[0]


SPACES = "server {\n    listen 80;  # plain\n    root /srv;\n}\n"
TABS = "server {\n\tlisten 80;\n}\n"


def test_lines_are_added_with_the_blocks_indentation_and_nothing_else_moves() -> None:
    first = editor.insert_first(SPACES, block(SPACES), ["a 1;"])
    last = editor.insert_last(SPACES, block(SPACES), ["b 2;", "c 3;"])
    assert editor.apply(SPACES, [first, last]) == (
        "server {\n    a 1;\n    listen 80;  # plain\n    root /srv;\n    b 2;\n    c 3;\n}\n"
    )
    assert editor.apply(TABS, [editor.insert_last(TABS, block(TABS), ["x;"])]) == (
        "server {\n\tlisten 80;\n\tx;\n}\n"
    )


def test_the_rest_of_the_opening_line_is_kept_with_its_comment() -> None:
    text = "server { # main site\n    listen 80;\n}\n"
    change = editor.insert_first(text, block(text), ["a;"])
    assert editor.apply(text, [change]) == "server { # main site\n    a;\n    listen 80;\n}\n"


def test_a_one_line_block_is_opened_up_to_take_new_lines() -> None:
    text = "  server { listen 80; return 200 'x'; }\n"
    changes = [
        editor.insert_first(text, block(text), ["a;"]),
        editor.insert_last(text, block(text), ["b;"]),
    ]
    assert editor.apply(text, changes) == (
        "  server {\n      a;\n      listen 80; return 200 'x';\n      b;\n  }\n"
    )


def test_crlf_files_get_crlf_lines() -> None:
    text = "server {\r\n    listen 80;\r\n}\r\n"
    new = editor.apply(text, [editor.insert_last(text, block(text), ["x;"])])
    assert new == "server {\r\n    listen 80;\r\n    x;\r\n}\r\n"


def test_replacing_arguments_keeps_spacing_and_trailing_comment() -> None:
    text = "server {\n    ssl_certificate     /old.pem;   # from the old CA\n}\n"
    stmt = child(text, "ssl_certificate")
    new = editor.apply(text, [editor.replace_args(text, stmt, ["/new path.pem"])])
    assert new == 'server {\n    ssl_certificate     "/new path.pem";   # from the old CA\n}\n'


def test_removing_a_statement_alone_on_its_line_removes_the_line() -> None:
    text = "server {\n    listen 80; # old\n    listen 81; root /x;\n}\n"
    first, second = [s for s in block(text).block or () if s.directive == "listen"]
    assert editor.apply(text, [editor.remove(text, first)]) == (
        "server {\n    listen 81; root /x;\n}\n"
    )
    assert editor.apply(text, [editor.remove(text, second)]) == (
        "server {\n    listen 80; # old\n    root /x;\n}\n"
    )


def test_a_block_can_be_followed_by_a_new_one_even_at_the_end_of_the_file() -> None:
    text = "server {\n}"
    change = editor.insert_after_block(text, block(text), "server {\n}")
    assert editor.apply(text, [change]) == "server {\n}\n\nserver {\n}\n"
    text = "server {\n} # end\nhttp {}\n"
    change = editor.insert_after_block(text, block(text), "copy {}")
    assert editor.apply(text, [change]) == "server {\n} # end\n\ncopy {}\nhttp {}\n"


def test_insert_after_a_statement() -> None:
    text = "server {\n    set $a 1; # ours\n    listen 80;\n}\n"
    change = editor.insert_after_stmt(text, block(text), child(text, "set"), ["if (x) {}"])
    assert editor.apply(text, [change]) == (
        "server {\n    set $a 1; # ours\n    if (x) {}\n    listen 80;\n}\n"
    )


@pytest.mark.parametrize(
    ("arg", "written"),
    [
        ("/etc/letsencrypt/live/a/fullchain.pem", "/etc/letsencrypt/live/a/fullchain.pem"),
        ("with space", '"with space"'),
        ('a"b;{c}', '"a\\"b;{c}"'),
        ("#hash", '"#hash"'),
        ("", '""'),
    ],
)
def test_arguments_are_quoted_only_when_needed(arg: str, written: str) -> None:
    assert editor.quote_arg(arg) == written
    text = f"x {written};"
    assert statements(tokenize(text))[0].args == (arg.replace("\\", "\\\\"),) or arg == ""


def test_a_newline_cannot_be_written_into_an_argument() -> None:
    with pytest.raises(ValueError):
        editor.quote_arg("a\nb")


def test_overlapping_changes_are_refused() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        editor.apply("abcdef", [Change(0, 3, "x"), Change(2, 4, "y")])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=6), st.text(max_size=40))
def test_insertions_never_alter_the_original_bytes(positions: list[int], text: str) -> None:
    mark = "\U0010fffe"  # a noncharacter hypothesis' text() does not generate here
    assume(mark not in text)
    marks = [Change(min(p, len(text)), min(p, len(text)), mark) for p in positions]
    assert editor.apply(text, marks).replace(mark, "") == text
