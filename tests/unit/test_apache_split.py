"""Which ServerName/ServerAlias entries a certificate covers, and the name lines of the
VirtualHost the Apache installer writes for the requested names."""

from __future__ import annotations

import pytest
from certbot_like_apache.split import _with_names, covered

from certbot_like.errors import InstallerError


@pytest.mark.parametrize(
    ("entry", "names", "expected"),
    [
        ("a.test", ["a.test"], True),
        ("b.test", ["a.test"], False),
        ("www.a.test", ["*.a.test"], True),
        ("x.www.a.test", ["*.a.test"], False),
        ("*.a.test", ["*.a.test"], True),
        ("*.a.test", ["www.a.test"], False),
        ("www?.a.test", ["www1.a.test"], False),
    ],
)
def test_covered(entry: str, names: list[str], expected: bool) -> None:
    assert covered(entry, names) is expected


def test_name_lines_are_replaced_where_the_first_was() -> None:
    block = (
        b"<VirtualHost *:443>\n\tServerName a.test\n\tDocumentRoot /srv\n"
        b"\tServerAlias b.test *.a.test\n</VirtualHost>"
    )
    assert _with_names(block, ["*.a.test", "c.test"]) == (
        b"<VirtualHost *:443>\n\tServerName c.test\n\tServerAlias *.a.test\n"
        b"\tDocumentRoot /srv\n</VirtualHost>"
    )


def test_a_block_without_names_gets_them_after_its_first_line() -> None:
    block = b"<VirtualHost *:443>\n  DocumentRoot /srv\n</VirtualHost>"
    assert _with_names(block, ["a.test"]) == (
        b"<VirtualHost *:443>\n  ServerName a.test\n  DocumentRoot /srv\n</VirtualHost>"
    )


def test_a_continued_name_line_is_refused() -> None:
    block = b"<VirtualHost *:443>\n  ServerAlias a.test \\\n    b.test\n</VirtualHost>"
    with pytest.raises(InstallerError, match="continues on the next line"):
        _with_names(block, ["a.test"])
