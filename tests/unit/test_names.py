"""Validation of operator names, CA identifiers, ACME tokens and lineage names."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from certbot_like.errors import CertbotLikeError, ProtocolViolation, UsageError
from certbot_like.interfaces import Identifier
from certbot_like.names import (
    MAX_NAME_LENGTH,
    check_ca_identifier,
    check_lineage_name,
    check_token,
    lineage_name_for,
    parse_domain_args,
    parse_identifier,
)

DNS = "dns"
IP = "ip"
GOOD_TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"  # 43 chars, from RFC 8555 8.3


def dns(value: str) -> Identifier:
    return Identifier(DNS, value)


def ip(value: str) -> Identifier:
    return Identifier(IP, value)


def assert_one_line(exc: CertbotLikeError) -> None:
    text = exc.one_line()
    assert "\n" not in text and "\r" not in text
    assert text.isprintable()


# --- parse_identifier: valid names ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("WWW.Example.COM", "www.example.com"),
        ("  example.com  ", "example.com"),
        ("a-b.example", "a-b.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("xn--80ak6aa92e.xn--p1ai", "xn--80ak6aa92e.xn--p1ai"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.Example", "xn--bcher-kva.example"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("*.日本語.jp", "*.xn--wgv71a119e.jp"),
        ("0.example", "0.example"),
        ("123.example", "123.example"),
        ("*.example.com", "*.example.com"),
        ("*.EXAMPLE.com", "*.example.com"),
        ("a" * 63 + ".test", "a" * 63 + ".test"),
    ],
)
def test_valid_names_are_lower_cased_dns_identifiers(raw: str, expected: str) -> None:
    assert parse_identifier(raw) == dns(expected)


def test_name_of_exactly_253_characters_is_accepted() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == MAX_NAME_LENGTH
    assert parse_identifier(name) == dns(name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("  192.0.2.1 ", "192.0.2.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8:0000::0001]", "2001:db8::1"),
        ("fe80::1", "fe80::1"),
    ],
)
def test_ip_addresses_become_normalised_ip_identifiers(raw: str, expected: str) -> None:
    assert parse_identifier(raw) == ip(expected)


def test_wildcard_is_refused_where_not_allowed_with_a_dns01_hint() -> None:
    with pytest.raises(UsageError) as info:
        parse_identifier("*.example.com", allow_wildcard=False)
    assert info.value.exit_code == 2
    assert "*.example.com" in info.value.message
    assert info.value.hint is not None and "dns" in info.value.hint.lower()


# --- parse_identifier: invalid names ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a" * 250 + ".com", "254 characters"),
        ("a" * 64 + ".com", "longer than 63"),
        ("-a.com", "inner hyphens"),
        ("a-.com", "inner hyphens"),
        ("a.-com", "inner hyphens"),
        ("a_b.com", "inner hyphens"),
        ("a..com", "inner hyphens"),
        (".a.com", "inner hyphens"),
        ("https://x.com/", "URL"),
        ("x.com/path", "URL"),
        ("a.com;rm", "shell"),
        ("a.test;rm -rf /", "shell"),
        ("a.test/$(id)", "shell"),
        ("$(x).com", "shell"),
        ("`id`.com", "shell"),
        ("a.com|b", "shell"),
        ("a b.com", "shell"),
        ("a.com\nb.com", "shell"),
        ("a\tb.com", "shell"),
        ("a\x00.com", "control"),
        ("snow\u2603.example", "U+2603"),
        ("\u0430pple.com", "mixes Cyrillic and Latin"),
        ("example.com.", "ends with a dot"),
        ("localhost", "single label"),
        ("com", "single label"),
        ("a.123", "numeric"),
        ("1.2.3.4.5", "numeric"),
        ("a*.b.com", "'*'"),
        ("x.*.com", "'*'"),
        ("*", "'*'"),
        ("*.*.com", "'*'"),
        ("*a.com", "'*'"),
        ("*.com", "single label"),
        ("*.", "empty"),
    ],
)
def test_invalid_names_are_usage_errors_naming_the_problem(raw: str, reason: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_identifier(raw)
    assert info.value.exit_code == 2
    assert reason in info.value.message
    assert_one_line(info.value)


def test_error_for_a_name_with_a_newline_shows_it_escaped_on_one_line() -> None:
    with pytest.raises(UsageError) as info:
        parse_identifier("evil.com\nFAKE LOG LINE")
    assert "\\n" in info.value.one_line()
    assert_one_line(info.value)


def test_very_long_bad_name_is_shortened_in_the_message() -> None:
    with pytest.raises(UsageError) as info:
        parse_identifier("x" * 5000)
    assert len(info.value.one_line()) < 300


def test_wildcard_counts_towards_the_length_limit() -> None:
    base = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 60])  # 252 characters
    assert parse_identifier(base) == dns(base)
    with pytest.raises(UsageError, match="254 characters"):
        parse_identifier("*." + base)


def test_non_ascii_letter_that_lower_cases_to_ascii_is_rejected() -> None:
    # KELVIN SIGN lower-cases to an ASCII "k": a look-alike must not pass as examplek.com.
    with pytest.raises(UsageError, match="ASCII"):
        parse_identifier("example\u212a.com")


@pytest.mark.parametrize("raw", ["fe80::1%eth0", "::1%$(id)", "[::1%25lo]"])
def test_ipv6_zone_index_is_rejected(raw: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_identifier(raw)
    assert "zone" in info.value.message or "shell" in info.value.message


@pytest.mark.parametrize("raw", ["[[::1]]", "::1]", "[192.0.2.1", "[]"])
def test_unbalanced_or_doubled_brackets_are_rejected(raw: str) -> None:
    with pytest.raises(UsageError):
        parse_identifier(raw)


_NAME_ALPHABET = string.ascii_letters + string.digits + "-._*[]:%/$;` \n\t\u212a\u00e9"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_NAME_ALPHABET, max_size=80) | st.text(max_size=40))
def test_any_text_is_a_valid_identifier_or_a_usage_error(raw: str) -> None:
    try:
        ident = parse_identifier(raw)
    except UsageError as exc:
        assert_one_line(exc)
        return
    assert ident.kind in (DNS, IP)
    assert ident.value.isascii() and ident.value.isprintable()
    assert not any(ch in ident.value for ch in " /$;`%\n\t")
    if ident.kind == DNS:
        assert ident.value == ident.value.lower()
        assert len(ident.value) <= MAX_NAME_LENGTH


_LABELS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LABELS, min_size=1, max_size=4), st.sampled_from(["com", "test", "xn--p1ai"]))
def test_well_formed_names_round_trip_unchanged(labels: list[str], tld: str) -> None:
    assume(not any(label.startswith("xn--") for label in labels))  # A-labels must decode
    name = ".".join([*labels, tld])
    assert parse_identifier(name.upper()) == dns(name)
    assert parse_identifier("*." + name) == dns("*." + name)


# --- parse_domain_args ------------------------------------------------------------------


def test_comma_lists_are_split_deduplicated_and_keep_their_order() -> None:
    got = parse_domain_args(["b.test, a.test", "B.TEST,c.test", "a.test"])
    assert got == [dns("b.test"), dns("a.test"), dns("c.test")]


def test_trailing_comma_is_tolerated_like_certbot() -> None:
    assert parse_domain_args(["a.test,"]) == [dns("a.test")]


def test_mixed_names_ips_and_wildcards_in_one_list() -> None:
    got = parse_domain_args(["*.a.test,a.test", "[::1],192.0.2.1"])
    assert got == [dns("*.a.test"), dns("a.test"), ip("::1"), ip("192.0.2.1")]


def test_no_values_give_an_empty_list() -> None:
    assert parse_domain_args([]) == []


@pytest.mark.parametrize("value", [",", "", " , ", ",,"])
def test_a_value_without_any_name_is_rejected(value: str) -> None:
    with pytest.raises(UsageError, match="Empty domain name"):
        parse_domain_args([value])


def test_one_bad_name_in_a_list_rejects_the_whole_list() -> None:
    with pytest.raises(UsageError, match=r"a_b\.test"):
        parse_domain_args(["good.test,a_b.test"])


# --- check_token ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [GOOD_TOKEN, "A" * 22, "-" * 22, "_" * 512, string.ascii_letters + string.digits + "-_"],
)
def test_base64url_tokens_are_returned_unchanged(token: str) -> None:
    assert check_token(token) == token


@pytest.mark.parametrize(
    "token",
    [
        "../" + GOOD_TOKEN,
        "..%2f" + GOOD_TOKEN,
        GOOD_TOKEN[:20] + "/" + GOOD_TOKEN[21:],
        GOOD_TOKEN + "#",
        "$(id)" + GOOD_TOKEN,
        GOOD_TOKEN + "\n",
        GOOD_TOKEN + "\nx",
        GOOD_TOKEN + "=",
        GOOD_TOKEN[:40] + "+/",
        GOOD_TOKEN + " ",
        GOOD_TOKEN[:21] + "é" + GOOD_TOKEN[22:],
        "A" * 21,
        "A" * 513,
        "",
    ],
)
def test_unsafe_or_malformed_tokens_are_protocol_violations(token: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        check_token(token)
    assert info.value.exit_code == 10
    assert "token" in info.value.message
    assert_one_line(info.value)


@pytest.mark.parametrize("token", [None, 43, b"A" * 43, ["A" * 43], {"token": GOOD_TOKEN}])
def test_a_token_that_is_not_a_string_is_a_protocol_violation(token: object) -> None:
    with pytest.raises(ProtocolViolation, match="token"):
        check_token(token)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600) | st.text(alphabet=string.printable, min_size=20, max_size=60))
def test_a_token_is_accepted_only_when_it_is_safe_as_a_file_name(token: str) -> None:
    try:
        assert check_token(token) == token
    except ProtocolViolation as exc:
        assert_one_line(exc)
        return
    assert 22 <= len(token) <= 512
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")


# --- check_ca_identifier ----------------------------------------------------------------


def test_requested_dns_identifier_is_returned() -> None:
    requested = [dns("a.test"), dns("b.test")]
    assert check_ca_identifier({"type": "dns", "value": "b.test"}, requested) == dns("b.test")


def test_ca_identifier_in_other_case_matches_the_request() -> None:
    assert check_ca_identifier({"type": "dns", "value": "A.Test"}, [dns("a.test")]) == dns("a.test")


def test_wildcard_authorization_maps_to_the_requested_wildcard() -> None:
    requested = [dns("*.a.test")]
    assert check_ca_identifier({"type": "dns", "value": "a.test"}, requested) == dns("*.a.test")


def test_ip_identifiers_are_compared_as_addresses() -> None:
    requested = [ip("2001:db8::1")]
    got = check_ca_identifier({"type": "ip", "value": "2001:DB8:0::0:1"}, requested)
    assert got == ip("2001:db8::1")


@pytest.mark.parametrize(
    ("raw", "requested"),
    [
        ({"type": "dns", "value": "evil.test"}, [dns("a.test")]),
        ({"type": "dns", "value": "a.test"}, [dns("*.b.test")]),
        ({"type": "dns", "value": "sub.a.test"}, [dns("*.a.test")]),
        ({"type": "ip", "value": "192.0.2.2"}, [ip("192.0.2.1")]),
        ({"type": "ip", "value": "a.test"}, [dns("a.test")]),
        ({"type": "dns", "value": "192.0.2.1"}, [ip("192.0.2.1")]),
        ({"type": "dns", "value": "a.test"}, []),
    ],
)
def test_identifier_that_was_not_requested_is_a_protocol_violation(
    raw: dict[str, str], requested: list[Identifier]
) -> None:
    with pytest.raises(ProtocolViolation) as info:
        check_ca_identifier(raw, requested)
    assert info.value.exit_code == 10
    assert_one_line(info.value)


def test_message_names_the_unrequested_identifier() -> None:
    with pytest.raises(ProtocolViolation, match=r"evil\.test.*not requested"):
        check_ca_identifier({"type": "dns", "value": "evil.test"}, [dns("a.test")])


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "a.test",
        ["dns", "a.test"],
        {},
        {"type": "dns"},
        {"value": "a.test"},
        {"type": "email", "value": "a@a.test"},
        {"type": "dns", "value": 5},
        {"type": "dns", "value": None},
        {"type": "dns", "value": "a.test/../../etc"},
        {"type": "dns", "value": "$(reboot).a.test"},
        {"type": "dns", "value": "a.test\nb.test"},
        {"type": ["dns"], "value": "a.test"},
    ],
)
def test_malformed_ca_identifiers_are_protocol_violations(raw: object) -> None:
    with pytest.raises(ProtocolViolation) as info:
        check_ca_identifier(raw, [dns("a.test")])
    assert_one_line(info.value)


# --- lineage names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["example.com", "a", "A_b-c.d", "example.com-0001", "192.0.2.1", "2001:db8::1", "x" * 252],
)
def test_safe_lineage_names_are_accepted(name: str) -> None:
    assert check_lineage_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        ".hidden",
        "-flag",
        "a/b",
        "../etc",
        "a\\b",
        "a b",
        "a;b",
        "a\n",
        "a\nb",
        "*.example.com",
        "é.com",
        "x" * 253,
    ],
)
def test_unsafe_lineage_names_are_usage_errors(name: str) -> None:
    with pytest.raises(UsageError) as info:
        check_lineage_name(name)
    assert info.value.exit_code == 2
    assert "certificate name" in info.value.message
    assert_one_line(info.value)


def test_default_lineage_name_is_the_first_name_without_wildcard() -> None:
    assert lineage_name_for([dns("*.a.test"), dns("a.test")]) == "a.test"
    assert lineage_name_for([dns("b.test"), dns("a.test")]) == "b.test"


def test_an_ipv6_address_is_a_usable_default_lineage_name() -> None:
    from certbot_like.names import check_lineage_name, lineage_name_for, parse_identifier

    assert check_lineage_name(lineage_name_for([parse_identifier("::1")])) == "::1"
