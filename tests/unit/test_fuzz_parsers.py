"""Fuzzing the parsers of hand-edited and untrusted input (docs/security.md, invariant 11).

cli.ini, the CA's JSON (directory, problem documents, renewalInfo, any body) and
certbot-like's own renewal state (PEM bundles: test_fuzz_pem.py). The property everywhere:
a result, or a :class:`~certbot_like.errors.CertbotLikeError` subclass (one line, a
documented exit code); never another exception type, which the CLI would report as an
internal error (exit 1).

Each section ends with deterministic reproducers of bugs the fuzzing found (all fixed).
"""

from __future__ import annotations

import datetime
import json
import string
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import click
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from certbot_like.cli.certbot_flags import COMPAT_PREFIX
from certbot_like.cli.command import CompatCommand
from certbot_like.cli.config_file import default_map_for, read_cli_ini
from certbot_like.errors import (
    AcmeError,
    ConfigError,
    ProtocolViolation,
)
from certbot_like.protocol.ari import MAX_RECHECK, MIN_RECHECK, choose_moment, fetch_renewal_info
from certbot_like.protocol.client import AcmeClient, Directory
from certbot_like.protocol.http import HttpResponse
from certbot_like.protocol.problems import ACME_PREFIX, problem_error
from certbot_like.services.due import decide
from certbot_like.services.scan import scan
from certbot_like.storage.file_store import FileStore
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_state import STATE_VERSION, RenewalState, state_path
from tests.harness.lineages import LocalIssuer, make_lineages
from tests.unit.fuzzing import FUZZ, JSON, weighted


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


# -- cli.ini ----------------------------------------------------------------------------------


@click.command(cls=CompatCommand)
@click.option("-c", "--config")
@click.option("--rsa-key-size", type=int)
@click.option("--http-timeout", type=float)
@click.option("--key-type", type=click.Choice(["rsa", "ecdsa"]))
@click.option("--agree-tos", is_flag=True)
@click.option("--expand/--no-expand", default=None)
@click.option("-v", "--verbose", count=True)
@click.option("-d", "--domains", multiple=True)
@click.option("--email")
def tiny(**kw: Any) -> dict[str, Any]:
    """A small command with one option of each kind cli.ini must convert."""
    return kw


# key -> values a person might write (valid or not); random text is mixed in below.
_INI_PLAUSIBLE = {
    "rsa-key-size": ["4096", " 2048 ", "4k", "-1", "4096, 2048"],
    "rsa_key_size": ["3072"],
    " http-timeout ": ["1.5", "30", "fast", "1e3"],
    "key-type": ["rsa", "ecdsa", "ECDSA", "dsa", "rsa, ecdsa"],
    "agree-tos": ["True", "yes", "", "0", "off", "maybe", "'true'"],
    "expand": ["true", "False", "2"],
    "no-expand": ["true", "no"],
    "verbose": ["3", "true", "", "-1", "\u0663", "x"],
    "domains": ["a.test, b.test", "a.test,", '"a.test"', "'a, b'"],
    "email": ["me@a.test", "a@b, c@d", '"q"'],
    "staple-ocsp": ["True"],  # certbot-only: ignored
    "webroot-path": ["/var/www"],  # another command's option: ignored here
    "bogus": ["1"],
}
_INI_KNOWN_LINE = st.sampled_from(sorted(_INI_PLAUSIBLE)).flatmap(
    lambda key: st.tuples(
        st.just(key),
        weighted((4, st.sampled_from(_INI_PLAUSIBLE[key])), (1, st.text(max_size=12))),
    )
)
_INI_JUNK = st.sampled_from(["# comment", "", "[section]", "[[sub]]", 'x = """', "key"]) | st.text(
    max_size=30
)
_INI_TEXT = st.tuples(
    st.lists(_INI_KNOWN_LINE, max_size=5, unique_by=lambda kv: kv[0].strip()),
    weighted((3, st.just([])), (1, st.lists(_INI_JUNK, min_size=1, max_size=1))),
    st.booleans(),
).map(
    lambda parts: (
        "\n".join([f"{k}{' = ' if parts[2] else '='}{v}" for k, v in parts[0]] + parts[1]) + "\n"
    )
)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_cli_ini_are_read_or_refused_with_a_config_error(
    scratch: Path, data: bytes
) -> None:
    path = scratch / "bytes-cli.ini"
    path.write_bytes(data)
    try:
        values = read_cli_ini(path)
    except ConfigError as exc:
        assert "\n" not in exc.one_line()
        return
    for key, value in values.items():
        assert isinstance(key, str)
        assert isinstance(value, str) or all(isinstance(v, str) for v in value)


@FUZZ
@given(_INI_TEXT)
def test_any_cli_ini_becomes_defaults_the_command_accepts_or_a_config_error(
    scratch: Path, text: str
) -> None:
    path = scratch / "lines-cli.ini"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    ctx = click.Context(tiny)
    try:
        defaults = default_map_for(tiny, ctx, path, explicit=True)
    except ConfigError as exc:
        assert "\n" not in exc.one_line()
        event("refused")
        return
    event(f"accepted {len(defaults)} values")
    names = {p.name for p in tiny.get_params(ctx)}
    assert set(defaults) <= names
    # What default_map_for let through, click takes without complaint.
    kw = tiny.main(args=["-c", str(path)], standalone_mode=False)
    for name, value in defaults.items():
        if name.startswith(COMPAT_PREFIX):
            continue  # certbot's flags we only note in the log: not passed to the command
        if not isinstance(value, list):
            assert kw[name] is not None, name


# -- the CA's JSON ------------------------------------------------------------------------------

# '[', ']' and non-ASCII are left out of URLs: see the require_https reproducer below.
_URL_TEXT = "".join(c for c in string.printable if c not in "[]")
_URL = st.builds(
    lambda scheme, host, path: f"{scheme}{host}{path}",
    st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "", "https:/", "//"]),
    st.text(string.ascii_letters + string.digits + "-._~:@%", max_size=20),
    st.text(_URL_TEXT, max_size=20),
)
_GOOD_URL = st.builds(
    lambda host, path: f"https://{host}.test/{path}",
    st.text(string.ascii_lowercase, min_size=1, max_size=8),
    st.text(string.ascii_letters + string.digits + "-._~/?#=&%+", max_size=12),
)
_DIR_URL = weighted((8, _GOOD_URL), (1, _URL), (1, JSON))
_DIRECTORY_KEYS = st.sampled_from(
    ["newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo", "meta"]
)
_META = st.dictionaries(
    st.sampled_from(["termsOfService", "externalAccountRequired", "profiles", "website"]),
    JSON | _URL | st.dictionaries(st.text(max_size=8), JSON),
)
_STRUCTURED_DIRECTORY = st.fixed_dictionaries(
    {"newNonce": _DIR_URL, "newAccount": _DIR_URL, "newOrder": _DIR_URL},
    optional={
        "revokeCert": _DIR_URL,
        "keyChange": _DIR_URL,
        "renewalInfo": _DIR_URL,
        "meta": _META | JSON,
        "extra": JSON,
    },
)
_DIRECTORY = weighted(
    (3, _STRUCTURED_DIRECTORY),
    (1, st.dictionaries(_DIRECTORY_KEYS | st.text(max_size=8), _URL | JSON | _META, max_size=9)),
)


@FUZZ
@given(_DIRECTORY)
def test_any_directory_object_is_parsed_or_a_protocol_violation(data: dict[str, Any]) -> None:
    try:
        directory = Directory.parse("https://ca.test/dir", data)
    except ProtocolViolation as exc:
        assert exc.one_line().isprintable()
        event("refused")
        return
    event("parsed")
    for url in (directory.new_nonce, directory.new_account, directory.new_order):
        assert url.lower().startswith("https://")  # the scheme is case-insensitive
    for optional in (directory.revoke_cert, directory.key_change, directory.renewal_info):
        assert optional is None or optional.lower().startswith("https://")
    assert all(text.isprintable() for text in directory.profiles.values())


_PROBLEM = st.recursive(
    st.dictionaries(
        st.sampled_from(["type", "detail", "identifier", "instance", "status"])
        | st.text(max_size=8),
        JSON | st.text(max_size=40).map(lambda t: ACME_PREFIX + t),
    ),
    lambda inner: st.dictionaries(
        st.sampled_from(["subproblems", "identifier"]),
        st.lists(inner, max_size=3) | inner | st.fixed_dictionaries({"value": JSON}),
    ),
    max_leaves=10,
)


@FUZZ
@given(
    _PROBLEM | JSON,
    st.none() | st.integers(min_value=-1, max_value=1000),
    st.none() | st.text(max_size=30),
    st.booleans(),
    st.text(max_size=40),
)
def test_any_problem_document_becomes_an_acme_error_with_one_clean_line(
    doc: Any, status: int | None, retry_after: str | None, validation: bool, context: str
) -> None:
    err = problem_error(
        doc, status=status, retry_after=retry_after, validation=validation, context=context
    )
    assert isinstance(err, AcmeError)
    assert len(err.one_line().splitlines()) == 1
    assert err.detail is None or err.detail.isprintable()
    assert err.identifier is None or err.identifier.isprintable()


@FUZZ
@given(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_body_is_json_or_a_protocol_violation(body: bytes) -> None:
    try:
        expected = json.loads(body)
    except (ValueError, RecursionError):
        expected = None
    resp = HttpResponse("https://ca.test/x", 200, {}, body)
    if isinstance(expected, dict):  # a JSON object comes back as it is (NaN compared as text)
        got = resp.json_object()
        assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    else:  # anything else, JSON or not, is refused with the one exception the caller handles
        with pytest.raises(ProtocolViolation):
            resp.json_object()


class _FakeTransport:
    def __init__(self, response: HttpResponse) -> None:
        self.response = response

    def request(self, method: str, url: str, **kw: Any) -> HttpResponse:
        assert method == "GET" and url.startswith("https://ca.test/ari/")
        return self.response


def _fake_client(response: HttpResponse) -> AcmeClient:
    """A real AcmeClient whose directory is given and whose transport answers *response*."""
    client = AcmeClient(cast(Any, _FakeTransport(response)), "https://ca.test/dir")
    client.use_directory(
        Directory.parse(
            "https://ca.test/dir",
            {
                "newNonce": "https://ca.test/nonce",
                "newAccount": "https://ca.test/acct",
                "newOrder": "https://ca.test/order",
                "renewalInfo": "https://ca.test/ari/",
            },
        )
    )
    return client


_AWARE = st.datetimes(timezones=st.timezones())
_TIME = st.one_of(
    _AWARE.map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.text(max_size=30),
    JSON,
)
_ORDERED_WINDOW = st.tuples(_AWARE, _AWARE).map(
    lambda pair: {"start": min(pair).isoformat(), "end": max(pair).isoformat()}
)
_WINDOW = weighted(
    (3, _ORDERED_WINDOW),
    (1, st.fixed_dictionaries({}, optional={"start": _TIME, "end": _TIME})),
    (1, JSON),
)
_ARI_DOC = st.fixed_dictionaries(
    {"suggestedWindow": _WINDOW}, optional={"explanationURL": JSON | _URL}
).map(lambda v: json.dumps(v).encode())
_ARI_BODY = weighted(
    (3, _ARI_DOC),
    (1, JSON.map(lambda v: json.dumps(v).encode())),
    (1, st.binary(max_size=100)),
)


@FUZZ
@given(
    _ARI_BODY,
    st.sampled_from([200] * 6 + [404, 429, 500, 503]),
    st.none() | st.text(max_size=20) | st.integers(-(10**9), 10**12).map(str),
)
def test_any_renewal_info_answer_is_a_sane_window_or_an_acme_error(
    body: bytes, status: int, retry_after: str | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    client = _fake_client(HttpResponse("https://ca.test/ari/x", status, headers, body))
    now = datetime.datetime.now(datetime.UTC)
    try:
        info = fetch_renewal_info(client, "aaaa.bbbb", now=now)
    except AcmeError as exc:
        assert exc.one_line().isprintable()
        event(type(exc).__name__)
        return
    event("window")
    assert status == 200 and info is not None
    assert info.start <= info.end
    assert now + MIN_RECHECK <= info.next_check <= now + MAX_RECHECK
    assert info.explanation is None or info.explanation.isprintable()
    moment = choose_moment(info)
    assert info.start <= moment <= info.end
    # what renew stores in its state
    for value in (moment, info.start, info.end, info.next_check):
        assert isinstance(value.timestamp(), float)


@pytest.mark.parametrize(
    "url", ["https://[", "https://[::1/dir", "https://ex\u2100ample.test/dir"], ids=repr
)
def test_a_malformed_url_from_the_ca_is_a_protocol_violation(url: str) -> None:
    data = {"newNonce": url, "newAccount": url, "newOrder": url}
    with pytest.raises(ProtocolViolation):
        Directory.parse("https://ca.test/dir", data)


def test_a_deeply_nested_answer_from_the_ca_is_a_protocol_violation() -> None:
    resp = HttpResponse("https://ca.test/x", 200, {}, b"[" * 1000 + b"]" * 1000)
    with pytest.raises(ProtocolViolation):
        resp.json()


# -- renewal state ------------------------------------------------------------------------------


def _write_state(work_dir: Path, data: bytes) -> None:
    path = state_path(work_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


_STATE_DOC = st.fixed_dictionaries(
    {"version": st.sampled_from([STATE_VERSION] * 3 + [2, 1, str(STATE_VERSION), None])},
    optional={
        "fields": st.lists(st.sampled_from(["names", "token", "not_after", "x"]), max_size=4)
        | JSON,
        "lineages": st.dictionaries(st.text(max_size=8), JSON) | JSON,
        "servers": st.dictionaries(st.text(max_size=8), JSON) | JSON,
    },
).map(lambda v: json.dumps(v).encode())


@FUZZ
@given(st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()) | _STATE_DOC)
def test_any_bytes_as_the_renewal_state_load_without_raising(scratch: Path, data: bytes) -> None:
    _write_state(scratch / "work", data)
    state = RenewalState.load(scratch / "work")
    assert isinstance(state, RenewalState)
    for lineage in state.lineages.values():  # whatever survived has the declared types
        assert lineage.names is None or all(isinstance(n, str) for n in lineage.names)


def test_a_deeply_nested_renewal_state_is_ignored(tmp_path: Path) -> None:
    _write_state(tmp_path, b"[" * 100_000)
    assert RenewalState.load(tmp_path).lineages == {}


@pytest.fixture
def one_lineage(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "etc", tmp_path / "work", tmp_path / "logs")
    params = {"server": "https://ca.test/dir", "authenticator": "standalone"}
    make_lineages(layout, ["a.test"], params, issuer=LocalIssuer())
    return layout


@pytest.mark.parametrize(
    "doc",
    [
        {"fields": ["retry_not_before"], "lineages": {"a.test": ["soon"]}},
        {"fields": ["ari_window"], "lineages": {"a.test": [[1.0, "later"]]}},
        {"fields": ["ari_window"], "lineages": {"a.test": [[1.0, 2.0, 3.0]]}},
        {"fields": ["last_attempt"], "lineages": {"a.test": [True]}},
        {"fields": ["token"], "lineages": {"a.test": [5]}},
        {"fields": [], "servers": {"https://ca.test/dir": {"ari": True, "checked": "today"}}},
    ],
    ids=[
        "retry_not_before",
        "ari_window-item",
        "ari_window-length",
        "last_attempt",
        "token",
        "server-checked",
    ],
)
def test_a_renewal_state_with_values_of_the_wrong_type_is_ignored(
    one_lineage: Layout, doc: dict[str, Any]
) -> None:
    _write_state(one_lineage.work_dir, json.dumps({"version": STATE_VERSION, **doc}).encode())
    state = RenewalState.load(one_lineage.work_dir)
    assert state.dirty
    assert state.lineages == {}
    assert state.servers == {}
    (entry,) = scan(FileStore(one_lineage), state)
    verdict, _ = decide(entry, state, time.time(), False)
    assert verdict in ("due", "not-due", "check")
