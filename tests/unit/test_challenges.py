"""The one parser for challenge-type names (``--preferred-challenges``, ``pref_challs``)."""

from __future__ import annotations

import pytest

from certbot_like.challenges import CHALLENGE_TYPES, parse_challenge_types
from certbot_like.errors import UsageError


def test_challenge_types_are_the_three_acme_types() -> None:
    assert CHALLENGE_TYPES == ("http-01", "dns-01", "tls-alpn-01")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["http-01"], ("http-01",)),
        (["dns-01"], ("dns-01",)),
        (["tls-alpn-01"], ("tls-alpn-01",)),
        (["http"], ("http-01",)),
        (["dns"], ("dns-01",)),
        (["tls-alpn"], ("tls-alpn-01",)),
    ],
)
def test_full_names_and_short_forms_give_the_full_name(
    values: list[str], expected: tuple[str, ...]
) -> None:
    assert parse_challenge_types(values) == expected


def test_certbot_comma_separated_list_keeps_its_order() -> None:
    assert parse_challenge_types(["dns,http"]) == ("dns-01", "http-01")
    assert parse_challenge_types(["http-01,dns-01,tls-alpn-01"]) == CHALLENGE_TYPES


def test_several_values_are_joined_in_order() -> None:
    assert parse_challenge_types(["dns-01", "http,tls-alpn"]) == (
        "dns-01",
        "http-01",
        "tls-alpn-01",
    )


def test_whitespace_around_names_is_ignored() -> None:
    assert parse_challenge_types([" dns-01 , http "]) == ("dns-01", "http-01")


def test_names_are_case_insensitive() -> None:
    assert parse_challenge_types(["HTTP-01", "Dns", "TLS-ALPN"]) == (
        "http-01",
        "dns-01",
        "tls-alpn-01",
    )


def test_repeats_are_kept_once_in_their_first_place() -> None:
    assert parse_challenge_types(["http", "dns-01,http-01", "DNS"]) == ("http-01", "dns-01")


def test_empty_items_are_skipped() -> None:
    assert parse_challenge_types(["http-01,", ",dns-01", " , "]) == ("http-01", "dns-01")


def test_no_values_mean_no_preference() -> None:
    assert parse_challenge_types([]) == ()
    assert parse_challenge_types([""]) == ()


def test_accepts_any_iterable() -> None:
    assert parse_challenge_types(iter(("dns", "http"))) == ("dns-01", "http-01")
    assert parse_challenge_types(("tls-alpn-01",)) == ("tls-alpn-01",)


@pytest.mark.parametrize("bad", ["http-02", "dns01", "tls-sni-01", "http dns", "*"])
def test_unknown_type_is_a_usage_error_naming_it_and_the_valid_ones(bad: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_challenge_types(["http-01", bad])
    line = caught.value.one_line()
    assert repr(bad) in line
    assert "http-01, dns-01 or tls-alpn-01" in line
    assert "\n" not in line
    assert caught.value.exit_code == 2


def test_unknown_type_is_reported_as_written() -> None:
    with pytest.raises(UsageError, match="'HTTP-3'"):
        parse_challenge_types(["HTTP-3"])
