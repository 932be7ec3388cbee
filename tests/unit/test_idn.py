"""Internationalised names: conversion to A-labels, what is refused, and the shown forms."""

from __future__ import annotations

import pytest
from certbot_like_webroot import expand_map, split_domains

from certbot_like.errors import UsageError
from certbot_like.idn import ascii_name, both_forms, to_unicode
from certbot_like.names import lineage_name_for, parse_domain_args, parse_identifier


def reason(raw: str) -> str:
    with pytest.raises(UsageError) as info:
        parse_identifier(raw)
    line = info.value.one_line()
    assert "\n" not in line and line.startswith(f"Invalid domain name {raw!r}: ")
    return line


def test_unicode_names_become_a_labels_and_the_lineage_is_named_after_the_first() -> None:
    idents = parse_domain_args(["Bücher.example,www.bücher.example", "xn--bcher-kva.example"])
    assert [i.value for i in idents] == ["xn--bcher-kva.example", "www.xn--bcher-kva.example"]
    assert lineage_name_for(idents) == "xn--bcher-kva.example"
    assert parse_identifier("*.straße.example").value == "*.xn--strae-oqa.example"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\u200db.example", "joiner U+200D not allowed at position 2"),
        ("\u05d0a.example", "(IDNA 2008)"),  # Hebrew then Latin: the bidi rule
        ("xn--zz.example", "label 'xn--zz' is not a valid A-label"),
        ("\u00fc" * 60 + ".example", "longer than 63 characters once converted"),
        ("\u03bfk.example", "mixes Greek and Latin letters, which look alike"),
        ("\u212a.example", "non-ASCII spelling of the ASCII name k.example; give k.example"),
    ],
)
def test_names_that_cannot_be_converted_get_one_line(raw: str, expected: str) -> None:
    assert expected in reason(raw)


def test_shown_forms() -> None:
    assert to_unicode("*.xn--bcher-kva.example") == "*.bücher.example"
    assert both_forms("xn--bcher-kva.example") == "xn--bcher-kva.example (bücher.example)"
    assert both_forms("example.com") == "example.com"
    assert to_unicode("xn--zz.example") == "xn--zz.example"  # not decodable: left alone
    assert ascii_name("Bücher.example") == "xn--bcher-kva.example"
    assert ascii_name("snow\u2603.example") == "snow\u2603.example"  # refused elsewhere


def test_webroot_map_keys_and_domains_given_in_unicode_match_the_identifiers() -> None:
    assert split_domains(["Bücher.example, a.example"]) == ["xn--bcher-kva.example", "a.example"]
    assert expand_map({"bücher.example": "/srv/www"}) == {"xn--bcher-kva.example": "/srv/www"}
