"""Problem documents become typed errors; Retry-After and polling never outlive a deadline."""

from __future__ import annotations

import email.utils
import itertools
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certbot_like.errors import (
    AcmeError,
    ProtocolViolation,
    TemporaryAcmeError,
    ValidationFailed,
)
from certbot_like.protocol.polling import (
    FIRST_DELAY,
    MAX_DELAY,
    MAX_RETRY_AFTER,
    Poller,
    backoff_delays,
    parse_retry_after,
)
from certbot_like.protocol.problems import (
    ACME_PREFIX,
    MAX_DETAIL,
    clean_text,
    problem_error,
    short_type,
)

WEEK = 7 * 24 * 3600.0
NOW = 1_900_000_000.0  # a fixed "now" for HTTP dates (2030)


def problem(ptype: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": ACME_PREFIX + ptype, "detail": detail, **extra}


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


# --- problem documents -> error classes -------------------------------------------------


def test_rate_limit_is_temporary_with_retry_after_in_the_hint() -> None:
    err = problem_error(
        problem("rateLimited", "too many certificates already issued"),
        status=429,
        retry_after="3600",
    )
    assert type(err) is TemporaryAcmeError
    assert err.exit_code == 75
    assert err.retry_after == 3600.0
    assert err.problem_type == "rateLimited"
    assert err.status == 429
    assert "too many certificates" in err.message
    assert err.hint is not None and "3600 s" in err.hint


def test_rate_limit_with_an_http_date_retry_after_is_parsed() -> None:
    when = http_date(time.time() + 120)
    err = problem_error(problem("rateLimited"), status=429, retry_after=when)
    assert err.retry_after is not None and 100 < err.retry_after <= 120


def test_rate_limit_without_retry_after_keeps_the_generic_hint() -> None:
    err = problem_error(problem("rateLimited"), status=429)
    assert type(err) is TemporaryAcmeError
    assert err.retry_after is None
    assert err.hint == "The CA's rate limit was hit; try again later"


def test_unauthorized_is_a_validation_failure_naming_the_identifier() -> None:
    doc = problem(
        "unauthorized",
        "Invalid response from http://a.test/.well-known/acme-challenge/x: 404",
        identifier={"type": "dns", "value": "a.test"},
    )
    err = problem_error(doc, status=403, validation=True)
    assert type(err) is ValidationFailed
    assert err.exit_code == 6
    assert err.identifier == "a.test"
    assert "for a.test" in err.message
    assert "404" in err.message
    assert err.hint is not None and "challenge" in err.hint


def test_unauthorized_outside_a_validation_is_a_refusal_not_a_challenge_failure() -> None:
    doc = problem("unauthorized", "External account binding MAC does not verify")
    err = problem_error(doc, status=403, context="The CA refused account registration")
    assert type(err) is AcmeError
    assert err.exit_code == 5
    assert err.hint is not None and "External Account Binding" in err.hint
    assert "challenge" not in err.one_line().lower()


@pytest.mark.parametrize(
    ("ptype", "hint_word"),
    [
        ("rejectedIdentifier", "will not issue"),
        ("caa", "CAA"),
        ("badCSR", "certificate request"),
        ("externalAccountRequired", "--eab-kid"),
        ("accountDoesNotExist", "register"),
        ("badPublicKey", "--key-type"),
        ("invalidProfile", "--profile"),
    ],
)
def test_refusals_are_acme_errors_with_a_specific_hint(ptype: str, hint_word: str) -> None:
    err = problem_error(problem(ptype, "no"), status=400)
    assert type(err) is AcmeError
    assert err.exit_code == 5
    assert err.problem_type == ptype
    assert err.hint is not None and hint_word in err.hint


@pytest.mark.parametrize("ptype", ["caa", "rejectedIdentifier"])
def test_policy_refusals_found_during_validation_stay_refusals(ptype: str) -> None:
    err = problem_error(problem(ptype), status=400, validation=True)
    assert type(err) is AcmeError


def test_other_problems_found_during_validation_are_validation_failures() -> None:
    err = problem_error(problem("malformed"), status=400, validation=True)
    assert type(err) is ValidationFailed


@pytest.mark.parametrize(
    ("ptype", "cls"),
    [
        ("connection", ValidationFailed),
        ("dns", ValidationFailed),
        ("tls", ValidationFailed),
        ("incorrectResponse", ValidationFailed),
        ("serverInternal", TemporaryAcmeError),
    ],
)
def test_problem_types_map_to_their_class(ptype: str, cls: type[AcmeError]) -> None:
    assert type(problem_error(problem(ptype), status=400)) is cls


def test_unknown_problem_type_is_a_plain_acme_error_that_shows_the_type() -> None:
    err = problem_error({"type": "urn:example:weird", "detail": "hm"}, status=400)
    assert type(err) is AcmeError
    assert "urn:example:weird" in err.message


def test_unknown_problem_with_a_5xx_status_is_temporary() -> None:
    err = problem_error({"type": "about:blank"}, status=502)
    assert type(err) is TemporaryAcmeError


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_without_a_problem_document_is_temporary(status: int) -> None:
    err = problem_error(None, status=status)
    assert type(err) is TemporaryAcmeError
    assert err.exit_code == 75
    assert str(status) in err.message


@pytest.mark.parametrize("doc", [None, "garbage", b"<html>", 42, ["type"], ("a", "b")])
@pytest.mark.parametrize("status", [None, 200, 400, 404])
def test_a_non_document_answer_is_a_protocol_violation(doc: object, status: int | None) -> None:
    err = problem_error(doc, status=status)
    assert type(err) is ProtocolViolation
    assert err.exit_code == 10
    assert "problem document" in err.message
    assert "None" not in err.message


def test_context_starts_the_message() -> None:
    err = problem_error(problem("malformed", "bad"), status=400, context="Finalizing the order")
    assert err.message.startswith("Finalizing the order: malformed: bad")


def test_identifier_is_taken_from_the_first_subproblem_that_has_one() -> None:
    doc = problem(
        "rejectedIdentifier",
        "Some names were rejected",
        subproblems=[
            {"type": ACME_PREFIX + "malformed"},
            "junk",
            problem("rejectedIdentifier", identifier={"type": "dns", "value": "bad.test"}),
        ],
    )
    assert problem_error(doc, status=400).identifier == "bad.test"


def test_user_action_required_points_at_the_instance_url() -> None:
    doc = problem("userActionRequired", "agree", instance="https://ca.test/tos\nEVIL")
    err = problem_error(doc, status=403)
    assert err.hint == "Visit https://ca.test/tos EVIL"


@pytest.mark.parametrize(
    "detail",
    [
        "line one\nline two\r\nline three",
        "bell\x07 escape\x1b[31m red\x1b[0m",
        "nul\x00 del\x7f bidi\u202e override",
        "x" * 10_000,
        "  spaced   out\t\ttext  ",
        "\u2028separator\u2029",
    ],
)
def test_ca_detail_becomes_one_printable_bounded_line(detail: str) -> None:
    err = problem_error(problem("malformed", detail), status=400)
    for text in (err.detail or "", err.message, err.one_line()):
        assert text.isprintable()
        assert "\n" not in text and "\r" not in text
    assert err.detail is not None and len(err.detail) <= MAX_DETAIL
    assert len(err.one_line()) < MAX_DETAIL + 200


def test_clean_text_keeps_ordinary_text_and_drops_non_strings() -> None:
    assert clean_text("Invalid response: 404") == "Invalid response: 404"
    assert clean_text(None) == ""
    assert clean_text({"a": 1}) == ""
    assert clean_text("abcdef", limit=5) == "ab..."


def test_short_type_strips_the_acme_prefix_and_bounds_foreign_types() -> None:
    assert short_type(problem("badNonce")) == "badNonce"
    assert short_type({"type": 7}) == "unknown"
    assert short_type({}) == "unknown"
    assert len(short_type({"type": "urn:x:" + "y\n" * 500})) <= 80


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=6,
)
_PROBLEM_KEYS = st.sampled_from(["type", "detail", "identifier", "subproblems", "instance"])
_PROBLEMS = st.dictionaries(_PROBLEM_KEYS, _JSON, max_size=5) | _JSON


@settings(max_examples=200, deadline=None)
@given(
    _PROBLEMS,
    st.none() | st.integers(min_value=100, max_value=599),
    st.none() | st.text(max_size=40),
    st.booleans(),
)
def test_any_answer_becomes_an_acme_error_with_one_clean_line(
    doc: object, status: int | None, retry_after: str | None, validation: bool
) -> None:
    err = problem_error(doc, status=status, retry_after=retry_after, validation=validation)
    assert isinstance(err, AcmeError)
    line = err.one_line()
    assert line.isprintable()
    assert len(line) < 1000
    if err.retry_after is not None:
        assert 0 <= err.retry_after <= MAX_RETRY_AFTER


# --- parse_retry_after ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("1", 1.0), ("120", 120.0), (" 7 ", 7.0), ("0042", 42.0)],
)
def test_delta_seconds_are_parsed(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


def test_absent_header_gives_none() -> None:
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "soon",
        "-5",
        "-0",
        "1.5",
        "1e3",
        "+10",
        "0x10",
        "10 s",
        "\u00b2",  # SUPERSCRIPT TWO: str.isdigit() says yes, int() says no
        "\u0661\u0662",  # ARABIC-INDIC digits: not HTTP delta-seconds
        "\uff11\uff12",  # FULLWIDTH digits
        "Wed, 21 Oct 2015 07:28:00 -0000",  # no usable time zone
        "Wed, 31 Feb 2015 07:28:00 GMT",
        "Mon, 01 Jan 99999 00:00:00 GMT",
        "9" * 65,
    ],
)
def test_unusable_values_give_none(value: str) -> None:
    assert parse_retry_after(value) is None


def test_http_date_in_the_future_gives_the_seconds_until_then() -> None:
    assert parse_retry_after(http_date(NOW + 90), now=NOW) == pytest.approx(90.0)


def test_http_date_in_the_past_means_now() -> None:
    assert parse_retry_after(http_date(NOW - 3600), now=NOW) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("value", [str(365 * 24 * 3600), "9" * 20, "9" * 64])
def test_absurd_delays_are_capped_at_a_week(value: str) -> None:
    assert parse_retry_after(value) == WEEK


def test_http_date_a_year_ahead_is_capped_at_a_week() -> None:
    assert parse_retry_after(http_date(NOW + 365 * 24 * 3600), now=NOW) == WEEK


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=70)
    | st.integers(min_value=-(10**30), max_value=10**30).map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(str)
    | st.integers(min_value=-(10**10), max_value=10**10).map(lambda t: http_date(NOW + t))
)
def test_retry_after_is_none_or_within_zero_and_a_week(value: str) -> None:
    seconds = parse_retry_after(value, now=NOW)
    assert seconds is None or 0.0 <= seconds <= WEEK


# --- backoff and Poller -----------------------------------------------------------------


def test_backoff_starts_fast_doubles_and_is_capped() -> None:
    delays = list(itertools.islice(backoff_delays(), 12))
    assert delays[0] == FIRST_DELAY
    assert delays[1] == pytest.approx(2 * FIRST_DELAY)
    assert max(delays) == MAX_DELAY
    assert delays == sorted(delays)


def test_wait_sleeps_the_backoff_then_returns_true() -> None:
    poller = Poller(time.monotonic() + 5.0, first=0.01)
    start = time.monotonic()
    assert poller.wait() is True
    assert 0.009 <= time.monotonic() - start < 1.0


def test_wait_honours_a_short_retry_after() -> None:
    poller = Poller(time.monotonic() + 5.0, first=2.0)
    start = time.monotonic()
    assert poller.wait("0") is True
    assert time.monotonic() - start < 0.5  # the CA's 0 s wins over the 2 s backoff


def test_wait_never_sleeps_past_the_deadline() -> None:
    deadline = time.monotonic() + 0.05
    poller = Poller(deadline, first=10.0)
    assert poller.wait() is True
    assert time.monotonic() < deadline + 0.25  # not the 10 s backoff


def test_retry_after_beyond_the_deadline_returns_false_at_once() -> None:
    poller = Poller(time.monotonic() + 0.5)
    start = time.monotonic()
    assert poller.wait("3600") is False
    assert poller.wait(http_date(time.time() + 3600)) is False
    assert time.monotonic() - start < 0.1


def test_wait_after_the_deadline_returns_false_at_once() -> None:
    poller = Poller(time.monotonic() - 1.0)
    start = time.monotonic()
    assert poller.wait() is False
    assert poller.wait("0") is False
    assert time.monotonic() - start < 0.1


def test_garbage_retry_after_falls_back_to_the_backoff() -> None:
    poller = Poller(time.monotonic() + 5.0, first=0.01)
    start = time.monotonic()
    assert poller.wait("not a date") is True
    assert time.monotonic() - start < 0.5


def test_repeated_waits_stop_at_the_deadline() -> None:
    deadline = time.monotonic() + 0.2
    poller = Poller(deadline, first=0.02)
    waits = 0
    while poller.wait():
        waits += 1
        assert waits < 50
    assert deadline <= time.monotonic() < deadline + 0.3
    assert poller.remaining() <= 0
