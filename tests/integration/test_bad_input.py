"""End to end: every bad input gets one clear line, a documented exit code, nothing half-written.

Each test runs the real CLI against Pebble and checks the exit code from
:mod:`certbot_like.errors`, that stderr is exactly one ``Error: ...`` line naming the problem
(and, where there is one, a hint), that no traceback escaped, and, where it matters, that no
request reached the CA and no lineage was written.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from certbot_like.errors import (
    AcmeError,
    CaTrustError,
    ConfigError,
    PluginError,
    TemporaryAcmeError,
    UsageError,
    ValidationFailed,
)
from tests.harness.authz import deactivate_valid_authorizations
from tests.harness.servers import Pebble, free_port
from tests.integration.conftest import Client, Result, assert_no_secrets, unique_name

USAGE = UsageError.exit_code
CONFIG = ConfigError.exit_code
CA_TRUST = CaTrustError.exit_code
PLUGIN = PluginError.exit_code
ACME = AcmeError.exit_code
VALIDATION = ValidationFailed.exit_code
TEMPORARY = TemporaryAcmeError.exit_code
_TRUST_ENV = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE")


def assert_one_error(result: Result, code: int, *needles: str) -> str:
    """Exit *code*, stderr exactly one ``Error: `` line holding every needle, no traceback."""
    assert result.returncode == code, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result
    line = lines[0]
    assert line.startswith("Error: "), result
    assert "Traceback" not in result.stderr + result.stdout, result
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} not in {line!r}"
    return line


def assert_no_lineage(client: Client) -> None:
    for sub in ("live", "archive", "renewal"):
        path = client.config_dir / sub
        assert not path.exists() or not [p for p in path.iterdir() if p.name != "README"], path


def order_requests(pebble: Pebble) -> int:
    return sum("order-plz" in line for line in pebble.request_lines())


def run_raw(
    client: Client, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
) -> Result:
    """Run the CLI with exactly *args* (no base arguments added), scanned for secrets."""
    return client.run_raw(args, env=env if env is not None else dict(os.environ), timeout=timeout)


def with_server(client: Client, server: str) -> list[str]:
    """``client.base_args()`` with ``--server`` replaced by *server*."""
    args = client.base_args()
    args[args.index("--server") + 1] = server
    return args


def closed_port_url() -> str:
    return f"https://127.0.0.1:{free_port()}/dir"


# 1. Invalid names are rejected before any network call.

_LONG_NAME = ("a" * 49 + ".") * 5 + "test"  # 254 characters, every label valid

BAD_NAMES = [
    pytest.param("", "Empty domain name", "-d example.com", id="empty"),
    pytest.param(_LONG_NAME, "254 characters", "Fix the -d value", id="254-chars"),
    pytest.param(
        "a.test;rm -rf /",
        "shell characters",
        "Fix the -d value",
        id="shell",
    ),
    pytest.param("$(id).test", "shell characters", "Fix the -d value", id="subst"),
    pytest.param("https://a.test/", "URL", "host name only", id="url"),
    pytest.param("a b.test", "spaces", "Fix the -d value", id="space"),
    pytest.param("bad_label.test", "bad_label", "Fix the -d value", id="underscore"),
    pytest.param("bü\u2603.test", "U+2603", "Fix the -d value", id="idna-disallowed"),
    pytest.param("a.test.", "trailing dot", "Fix the -d value", id="trailing-dot"),
    pytest.param("a\nb.test", "control", "Fix the -d value", id="newline"),
]


@pytest.mark.parametrize(("name", "problem", "hint"), BAD_NAMES)
def test_invalid_name_is_rejected_before_any_request(
    client: Client, pebble: Pebble, name: str, problem: str, hint: str
) -> None:
    before = len(pebble.request_lines())
    result = client.run("obtain", "-d", name, *client.standalone_args())
    assert_one_error(result, USAGE, problem, hint)
    assert len(pebble.request_lines()) == before
    assert_no_lineage(client)
    assert not (client.config_dir / "accounts").exists()


def test_wildcard_with_standalone_needs_dns01(client: Client, pebble: Pebble) -> None:
    before = len(pebble.request_lines())
    result = client.obtain("*." + unique_name("x"))
    assert_one_error(result, USAGE, "wildcard", "dns-01")
    assert len(pebble.request_lines()) == before
    assert_no_lineage(client)


@pytest.mark.parametrize("name", ["a.test;rm -rf /", "bad_label.test", ""])
def test_invalid_name_fails_as_usage_even_when_the_ca_is_unreachable(
    client: Client, name: str
) -> None:
    args = with_server(client, closed_port_url())
    result = run_raw(
        client,
        [
            "obtain",
            *args,
            "--agree-tos",
            "--register-unsafely-without-email",
            "-d",
            name,
            *client.standalone_args(),
        ],
    )
    assert_one_error(result, USAGE, "domain name")


# 2. Authenticator and flag mistakes.


def test_no_authenticator_in_a_non_interactive_run(client: Client, pebble: Pebble) -> None:
    before = len(pebble.request_lines())
    result = client.run("obtain", "-d", unique_name("noauth"))
    assert_one_error(result, USAGE, "No authenticator", "--standalone", "--webroot", "--manual")
    assert len(pebble.request_lines()) == before


def test_two_authenticators(client: Client, pebble: Pebble, tmp_path: Path) -> None:
    before = len(pebble.request_lines())
    result = client.run(
        "obtain", "-d", unique_name("two"), "--standalone", "--webroot", "-w", str(tmp_path)
    )
    assert_one_error(result, USAGE, "Several authenticators", "standalone", "webroot")
    assert len(pebble.request_lines()) == before
    assert_no_lineage(client)


def test_must_staple_is_refused(client: Client, pebble: Pebble) -> None:
    before = len(pebble.request_lines())
    result = client.obtain(unique_name("staple"), extra=["--must-staple"])
    assert_one_error(result, USAGE, "--must-staple", "Drop the flag")
    assert len(pebble.request_lines()) == before


def test_unknown_preferred_challenge(client: Client, pebble: Pebble) -> None:
    before = len(pebble.request_lines())
    result = client.obtain(unique_name("pref"), extra=["--preferred-challenges", "foo"])
    assert_one_error(result, USAGE, "'foo'", "http-01")
    assert len(pebble.request_lines()) == before


# 3. Account decisions a non-interactive run cannot make.


def test_terms_of_service_not_agreed(client: Client) -> None:
    result = client.run(
        "obtain",
        "-d",
        unique_name("tos"),
        *client.standalone_args(),
        "--register-unsafely-without-email",
        register=False,
    )
    assert_one_error(result, USAGE, "--agree-tos")
    assert not (client.config_dir / "accounts").exists()
    assert_no_lineage(client)


def test_no_email_decision(client: Client) -> None:
    result = client.run(
        "obtain",
        "-d",
        unique_name("mail"),
        *client.standalone_args(),
        "--agree-tos",
        register=False,
    )
    assert_one_error(result, USAGE, "--email", "--register-unsafely-without-email")
    assert not (client.config_dir / "accounts").exists()
    assert_no_lineage(client)


# 4./5. The CA cannot be reached, or not trusted.


def test_unreachable_ca_is_temporary(client: Client) -> None:
    args = with_server(client, closed_port_url())
    result = run_raw(
        client,
        [
            "obtain",
            *args,
            "--agree-tos",
            "--register-unsafely-without-email",
            "-d",
            unique_name("down"),
            *client.standalone_args(),
        ],
    )
    assert_one_error(result, TEMPORARY, "Cannot reach the CA", "--server")
    assert_no_lineage(client)


def test_plain_http_server_url_is_a_usage_error(client: Client, pebble: Pebble) -> None:
    before = len(pebble.request_lines())
    args = with_server(client, f"http://127.0.0.1:{pebble.port}/dir")
    result = run_raw(
        client,
        [
            "obtain",
            *args,
            "--agree-tos",
            "--register-unsafely-without-email",
            "-d",
            unique_name("plain"),
            *client.standalone_args(),
        ],
    )
    assert_one_error(result, USAGE, "--server must be an https://")
    assert len(pebble.request_lines()) == before


def test_untrusted_ca_certificate(client: Client, pebble: Pebble) -> None:
    args = client.base_args()
    index = args.index("--ca-bundle")
    del args[index : index + 2]
    env = {k: v for k, v in os.environ.items() if k not in _TRUST_ENV}
    before = len(pebble.request_lines())
    result = run_raw(
        client,
        [
            "obtain",
            *args,
            "--agree-tos",
            "--register-unsafely-without-email",
            "-d",
            unique_name("trust"),
            *client.standalone_args(),
        ],
        env=env,
    )
    assert_one_error(result, CA_TRUST, "not trusted", "--ca-bundle")
    assert len(pebble.request_lines()) == before  # the TLS handshake failed
    assert_no_lineage(client)


# 6./7. The CA refuses: a blocked identifier, a failed validation.


def register(client: Client) -> None:
    """Register the account first, so the run under test prints nothing but its error.

    (A first run notifies "Account registered." on stderr, the channel for progress messages.)
    """
    result = client.run("register")
    assert result.returncode == 0, result


def test_rejected_identifier_carries_the_cas_detail(client: Client) -> None:
    register(client)
    result = client.obtain("blocked.test")
    line = assert_one_error(result, ACME, "rejectedIdentifier", "blocked.test")
    assert "polic" in line.lower() or "forbid" in line.lower() or "block" in line.lower(), line
    assert_no_lineage(client)


def _manual_failing_args(tmp_path: Path) -> tuple[list[str], Path]:
    marker = tmp_path / "cleanup-ran"
    return [
        "--manual",
        "--manual-auth-hook",
        "true",
        "--manual-cleanup-hook",
        f"touch {marker}",
    ], marker


def test_validation_failure_names_the_domain_and_cleans_up(client: Client, tmp_path: Path) -> None:
    name = unique_name("nval")
    register(client)
    args, marker = _manual_failing_args(tmp_path)
    result = client.run("obtain", "-d", name, *args)
    line = assert_one_error(result, VALIDATION, name)
    assert "refused" in line.lower() or "connect" in line.lower(), line
    assert marker.exists(), "the cleanup hook did not run"
    assert_no_lineage(client)


# 8./9. The authenticator cannot run.


@pytest.fixture
def busy_http_port(pebble: Pebble) -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: bind despite TIME_WAIT left by earlier tests; a second listener on
        # the same address is still refused on Linux.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", pebble.http_port))
        sock.listen(1)
        yield pebble.http_port


def test_busy_port_fails_before_any_order(
    client: Client, pebble: Pebble, busy_http_port: int
) -> None:
    before = order_requests(pebble)
    result = client.obtain(unique_name("busy"))
    assert_one_error(result, PLUGIN, f"Port {busy_http_port}", "in use")
    assert order_requests(pebble) == before
    assert_no_lineage(client)


def test_manual_without_hook_non_interactive(client: Client, pebble: Pebble) -> None:
    before = order_requests(pebble)
    result = client.run("obtain", "-d", unique_name("nohook"), "--manual")
    assert_one_error(result, PLUGIN, "needs --manual-auth-hook", "non-interactively")
    assert order_requests(pebble) == before
    assert_no_lineage(client)


# 10. External Account Binding.

_EAB_KID = "kid-1"
_EAB_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def eab_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    server = Pebble(tmp_path_factory.mktemp("pebble-eab"), eab_keys={_EAB_KID: _EAB_KEY}).start()
    yield server
    server.stop()


@pytest.fixture
def eab_client(eab_pebble: Pebble, tmp_path: Path) -> Client:
    return Client(eab_pebble, tmp_path)


def _assert_secret_not_leaked(client: Client, result: Result, secret: str) -> None:
    """Every run is scanned already; this says which secret matters here, and that the run
    did write the log the scan read (a scan of no log would prove nothing)."""
    assert (client.logs_dir / "letsencrypt.log").is_file(), result
    assert_no_secrets(client, extra=(secret,))


def test_eab_required_but_not_given(eab_client: Client) -> None:
    result = eab_client.obtain(unique_name("eab"))
    assert_one_error(result, USAGE, "requires External Account Binding", "--eab-kid")
    assert_no_lineage(eab_client)


def _obtain_with_wrong_eab_key(client: Client) -> tuple[Result, str]:
    wrong = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    result = client.obtain(
        unique_name("eab"), extra=["--eab-kid", _EAB_KID, "--eab-hmac-key", wrong]
    )
    return result, wrong


def test_eab_with_a_wrong_hmac_key_is_reported_without_leaking_it(eab_client: Client) -> None:
    result, wrong = _obtain_with_wrong_eab_key(eab_client)
    assert result.returncode != 0, result
    line = assert_one_error(result, result.returncode, "unauthorized", "external account binding")
    assert "account registration" in line, line
    assert_no_lineage(eab_client)
    assert not list(eab_client.config_dir.rglob("private_key.json"))
    _assert_secret_not_leaked(eab_client, result, wrong)
    _assert_secret_not_leaked(eab_client, result, _EAB_KEY)


def test_eab_with_a_wrong_hmac_key_exits_as_a_ca_refusal(eab_client: Client) -> None:
    result, _ = _obtain_with_wrong_eab_key(eab_client)
    line = assert_one_error(result, ACME, "unauthorized", "external account binding")
    assert "challenge" not in line.lower(), line


def test_eab_with_the_right_key_stores_the_certificate(eab_client: Client) -> None:
    name = unique_name("eab")
    result = eab_client.obtain(name, extra=["--eab-kid", _EAB_KID, "--eab-hmac-key", _EAB_KEY])
    assert result.returncode == 0, result
    assert (eab_client.live(name) / "fullchain.pem").is_symlink()
    assert (eab_client.live(name) / "fullchain.pem").exists()
    assert len(list(eab_client.config_dir.rglob("private_key.json"))) == 1
    _assert_secret_not_leaked(eab_client, result, _EAB_KEY)


# 11./12./13. Bad files and names given on the command line.


def test_garbage_csr_is_a_config_error(client: Client, pebble: Pebble, tmp_path: Path) -> None:
    csr = tmp_path / "garbage.csr"
    csr.write_bytes(b"\x00\xffnot a csr\x13\x37" * 20)
    before = len(pebble.request_lines())
    result = client.run("obtain", "--csr", str(csr), *client.standalone_args())
    assert_one_error(result, CONFIG, str(csr), "certificate signing request")
    assert len(pebble.request_lines()) == before


def test_cert_path_without_csr(client: Client, pebble: Pebble, tmp_path: Path) -> None:
    before = len(pebble.request_lines())
    result = client.obtain(unique_name("cp"), extra=["--cert-path", str(tmp_path / "c.pem")])
    assert_one_error(result, USAGE, "--cert-path", "--csr")
    assert len(pebble.request_lines()) == before
    assert not (tmp_path / "c.pem").exists()


def test_broken_config_file(client: Client, pebble: Pebble, tmp_path: Path) -> None:
    ini = tmp_path / "broken-cli.ini"
    ini.write_text("agree-tos = True\n[unclosed\n")
    before = len(pebble.request_lines())
    result = client.obtain(unique_name("ini"), extra=["-c", str(ini)])
    assert_one_error(result, CONFIG, str(ini), "[unclosed", "line 2")
    assert len(pebble.request_lines()) == before


@pytest.mark.parametrize("where", ["root", "tmp"])
def test_missing_config_file(client: Client, pebble: Pebble, tmp_path: Path, where: str) -> None:
    missing = Path("/nonexistent.ini") if where == "root" else tmp_path / "nonexistent.ini"
    assert not missing.exists()
    before = len(pebble.request_lines())
    result = client.obtain(unique_name("ini"), extra=["-c", str(missing)])
    assert_one_error(result, CONFIG, str(missing), "does not exist")
    assert len(pebble.request_lines()) == before


def test_cert_name_with_a_slash(client: Client, pebble: Pebble) -> None:
    before = len(pebble.request_lines())
    result = client.obtain(unique_name("slash"), extra=["--cert-name", "../evil"])
    assert_one_error(result, USAGE, "certificate name", "no slash")
    assert len(pebble.request_lines()) == before
    assert_no_lineage(client)
    assert not (client.root / "evil").exists()
    assert {p.name for p in client.root.iterdir()} <= {"config", "work", "logs"}


# 14. A failed renewal leaves the existing lineage exactly as it was.


def _snapshot(client: Client, name: str) -> dict[str, bytes | str]:
    state: dict[str, bytes | str] = {}
    for sub in ("live", "archive"):
        for path in sorted((client.config_dir / sub / name).iterdir()):
            key = f"{sub}/{path.name}"
            state[key] = path.read_bytes()
            if path.is_symlink():
                state[key + "@"] = os.readlink(path)
    state["renewal"] = (client.config_dir / "renewal" / f"{name}.conf").read_bytes()
    return state


@pytest.fixture(scope="module")
def fresh_authz_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """A Pebble that never reuses a valid authorization, so a renewal is validated again.

    (By default Pebble reuses an account's valid authorization half of the time, and a
    forced renewal right after the first issuance would then succeed without any challenge.)
    """
    server = Pebble(tmp_path_factory.mktemp("pebble-fresh"), env={"PEBBLE_AUTHZREUSE": "0"}).start()
    yield server
    server.stop()


def test_failed_renewal_leaves_the_lineage_untouched(
    fresh_authz_pebble: Pebble, tmp_path: Path
) -> None:
    client = Client(fresh_authz_pebble, tmp_path / "client")
    name = unique_name("keepold")
    first = client.obtain(name)
    assert first.returncode == 0, first
    before = _snapshot(client, name)
    # PEBBLE_AUTHZREUSE=0 still reuses 1 in 100: tests/harness/authz.py
    pebble = fresh_authz_pebble
    assert deactivate_valid_authorizations(
        pebble.directory_url, pebble.ca_bundle, client.config_dir
    )
    args, marker = _manual_failing_args(tmp_path)
    result = client.run("obtain", "-d", name, "--force-renewal", *args)
    assert_one_error(result, VALIDATION, name)
    assert marker.exists(), "the cleanup hook did not run"
    assert _snapshot(client, name) == before
    assert not [p for p in (client.config_dir / "live").iterdir() if p.name.startswith(".")]
    assert not [p for p in (client.config_dir / "archive" / name).iterdir() if "2" in p.name]
