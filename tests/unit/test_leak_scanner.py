"""The secret scan every CLI run in the tests passes through, and the check that none avoids it.

First the scanner (tests/harness/leaks.py) is fed each kind of leak it promises to find and
must fail; then the runners (tests/harness/clirun.py) must fail a run that prints or logs
one. Last, every test module is read: a CLI started any other way (``subprocess`` with the
CLI's command line, ``CliRunner``, the CLI's ``main``/``cli`` called directly) fails here.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwk import JWK

from tests.harness import leaks
from tests.harness.clirun import invoke_cli, run_cli, run_main, start_cli
from tests.harness.leaks import SecretLeak, assert_no_leaks, find_leaks, register_secret

TESTS = Path(__file__).resolve().parents[1]
PY = [sys.executable, "-c"]


def pem_key(kind: str) -> str:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    fmt = (
        serialization.PrivateFormat.PKCS8
        if kind != "rsa-traditional"
        else (serialization.PrivateFormat.TraditionalOpenSSL)
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def jwk_json(kind: str) -> dict[str, str]:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    doc: dict[str, str] = JWK.load(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    ).to_json()
    return doc


def random_b64(size: int = 32) -> str:
    return base64.urlsafe_b64encode(os.urandom(size)).rstrip(b"=").decode()


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Secrets a test registers here do not stay registered for the rest of the session."""
    before = set(leaks._registered)
    yield
    with leaks._lock:
        leaks._registered.clear()
        leaks._registered.update(before)


# -- the scanner ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ec", "rsa", "rsa-traditional"])
def test_a_pem_private_key_is_a_leak(kind: str) -> None:
    text = f"some output\n{pem_key(kind)}more output\n"
    with pytest.raises(SecretLeak, match="PEM private key block"):
        assert_no_leaks([("stdout", text)])


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi"])
def test_each_private_jwk_member_in_json_is_a_leak(member: str) -> None:
    doc = jwk_json("rsa")
    leaked = {"kty": "RSA", "n": doc["n"], "e": doc["e"], member: doc[member]}
    for text in (json.dumps(leaked), json.dumps(leaked, indent=2), repr(leaked)):
        found = find_leaks(text, "log")
        assert [leak.what for leak in found] == [
            f'the private JWK member "{member}" with a value'
        ], text


def test_a_whole_ec_account_key_is_a_leak_and_its_public_part_is_not() -> None:
    doc = jwk_json("ec")
    assert find_leaks(json.dumps(doc), "stderr"), "the private key must be found"
    public = {k: v for k, v in doc.items() if k != "d"}
    assert find_leaks(json.dumps(public), "stderr") == []


def test_masked_members_and_ordinary_output_are_not_leaks() -> None:
    text = (
        '{"kty": "EC", "d": "***", "x": "abc"}\n'
        "Successfully received certificate.\n-----BEGIN CERTIFICATE-----\nMIIB\n"
        "-----REDACTED PRIVATE KEY-----\n--eab-hmac-key ***\n"
        '{"renewed": [{"name": "d.test", "days_left": 89}], "p": 3}\n'
    )
    assert find_leaks(text, "stdout") == []


def test_an_eab_hmac_key_known_to_the_test_is_a_leak() -> None:
    hmac_key = random_b64()
    text = f"Error: the CA refused the binding with key {hmac_key}\n"
    assert find_leaks(text, "stderr") == []  # nothing in its form says "secret"
    with pytest.raises(SecretLeak, match=r"secret known to the test \(.{3}\.\.\.\(43 char") as info:
        assert_no_leaks([("stderr of `certbot-like obtain`", text)], secrets={hmac_key})
    assert hmac_key not in str(info.value), "the report must not print the secret"
    assert "stderr of `certbot-like obtain`" in str(info.value)


def test_a_registered_tsig_secret_is_a_leak_everywhere(clean_registry: None) -> None:
    tsig = base64.b64encode(os.urandom(32)).decode()
    text = f'key "certbot-like." {{ algorithm hmac-sha256; secret "{tsig}"; }};'
    assert find_leaks(text, "log") == []
    register_secret(tsig)
    assert [leak.where for leak in find_leaks(text, "log")] == ["log"]


def test_secrets_are_taken_from_flags_and_credential_files(tmp_path: Path) -> None:
    tsig, password, hmac_key = random_b64(), random_b64(), random_b64()
    ini = tmp_path / "rfc2136.ini"
    ini.write_text(f"dns_rfc2136_name = key.\ndns_rfc2136_secret = {tsig}\n")
    acmedns = tmp_path / "acmedns.json"
    acmedns.write_text(json.dumps({"a.test": {"username": "u", "password": password}}))
    args = [
        "obtain",
        "--eab-hmac-key",
        hmac_key,
        "--dns-rfc2136-credentials",
        "rfc2136.ini",
        f"--dns-acmedns-credentials={acmedns}",
    ]
    assert leaks.secrets_in_args(args, cwd=tmp_path) == {tsig, password, hmac_key}


def test_keys_in_a_config_dir_are_secrets_even_without_their_pem_lines(tmp_path: Path) -> None:
    account_dir = tmp_path / "accounts" / "ca.test" / "directory" / "abc"
    account_dir.mkdir(parents=True)
    account = jwk_json("ec")
    (account_dir / "private_key.json").write_text(json.dumps(account))
    archive = tmp_path / "archive" / "a.test"
    archive.mkdir(parents=True)
    pem = pem_key("ec")
    (archive / "privkey1.pem").write_text(pem)
    known = leaks.secrets_in_config_dir(tmp_path)
    assert account["d"] in known
    body = "".join(pem.splitlines()[1:-1])
    assert find_leaks(f"DEBUG key material: {body}", "log", known)
    leaf_line = "MIIBszCCAVmgAwIBAgIUQ3Jn"  # a certificate is not a key
    assert find_leaks(leaf_line, "log", known) == []


# -- the runners ------------------------------------------------------------------------------


def test_run_cli_fails_a_run_that_prints_a_private_key() -> None:
    code = "import sys; sys.stderr.write(sys.argv[1])"
    with pytest.raises(SecretLeak, match=r"PEM private key block.*stderr of"):
        run_cli([pem_key("ec")], launcher=[*PY, code])


def test_run_cli_fails_a_run_that_echoes_its_eab_key() -> None:
    hmac_key = random_b64()
    code = "import sys; print('binding with', sys.argv[-1])"
    with pytest.raises(SecretLeak, match="stdout of"):
        run_cli(["register", "--eab-hmac-key", hmac_key], launcher=[*PY, code])
    clean = run_cli(["register", "--eab-hmac-key", hmac_key], launcher=[*PY, "print('ok')"])
    assert clean.stdout == "ok\n"


def test_run_cli_fails_a_run_whose_log_holds_a_jwk(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    doc = json.dumps(jwk_json("ec"))
    code = (
        "import pathlib, sys; d = pathlib.Path(sys.argv[-1]); d.mkdir();"
        f" (d / 'letsencrypt.log').write_text({doc!r})"
    )
    with pytest.raises(SecretLeak, match=r'"d" with a value in .*letsencrypt\.log'):
        run_cli(["renew", "--logs-dir", str(logs)], launcher=[*PY, code])


def test_a_background_run_is_scanned_when_it_finishes(tmp_path: Path) -> None:
    code = f"print({pem_key('rsa')!r})"
    started = start_cli(["renew"], launcher=[*PY, code])
    with pytest.raises(SecretLeak):
        started.finish()
    into_file = start_cli(["renew"], launcher=[*PY, code], output=tmp_path / "out.log")
    with pytest.raises(SecretLeak):
        into_file.finish()


def test_invoke_cli_fails_a_command_that_leaks() -> None:
    secret = random_b64()

    @click.command()
    @click.option("--api-key")
    def leaky(api_key: str) -> None:
        click.echo(f"using {api_key}", err=True)

    with pytest.raises(SecretLeak, match="stderr of"):
        invoke_cli(leaky, ["--api-key", secret])


def test_run_main_scans_the_real_cli() -> None:
    result = run_main(["--version"])
    assert result.returncode == 0 and result.stdout.startswith("certbot-like ")


# -- nothing starts the CLI around the scan ---------------------------------------------------

#: Files allowed to start the CLI themselves, and why.
ALLOWED = {
    "harness/clirun.py": "the runner everything else goes through",
    "harness/demo.py": "`make demo` shows the operator the real output; not a test",
}
ALLOWED_DIRS = {
    "bench": "`make bench` times the CLI (output to files it keeps); not a test",
}
_SPAWN = {
    "subprocess.run",
    "subprocess.Popen",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "os.system",
    "os.popen",
    "os.execv",
    "os.execvp",
    "os.execve",
    "os.spawnv",
    "os.posix_spawn",
    "pty.spawn",
    "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell",
}
_CLI_MODULE = "certbot_like.cli.main"


def _assignments(tree: ast.AST) -> dict[str, list[ast.expr]]:
    found: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value)
        elif (
            isinstance(node, ast.AnnAssign | ast.AugAssign)
            and node.value is not None
            and isinstance(node.target, ast.Name)
        ):
            found.setdefault(node.target.id, []).append(node.value)
    return found


def _expand(expr: ast.expr, names: dict[str, list[ast.expr]], depth: int = 3) -> str:
    """The source of *expr* and of what its names were assigned (a few levels deep)."""
    parts = [ast.unparse(expr)]
    if depth:
        for node in ast.walk(expr):
            if isinstance(node, ast.Name):
                parts += [_expand(v, names, depth - 1) for v in names.get(node.id, [])]
    return "\n".join(parts)


#: ``CLI`` (the runner's command line), the CLI's module, or ``certbot-like`` as a program
#: (not inside a name such as ``demo.certbot-like.test`` or ``certbot-like-renew.timer``).
_CLI_WORDS = re.compile(
    r"\bCLI\b|" + re.escape(_CLI_MODULE) + r"|(?<![\w.-])certbot-like(?![\w.-])"
)


def _starts_the_cli(text: str) -> bool:
    return _CLI_WORDS.search(text) is not None


def cli_launches(source: str) -> list[str]:
    """``line: what`` for every place *source* starts certbot-like without the runner."""
    tree = ast.parse(source)
    names = _assignments(tree)
    from_cli_module = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == _CLI_MODULE:
            from_cli_module |= {alias.asname or alias.name for alias in node.names}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute) and (
            getattr(node, "id", None) == "CliRunner" or getattr(node, "attr", None) == "CliRunner"
        ):
            found.append(f"{node.lineno}: click's CliRunner")
        if not isinstance(node, ast.Call):
            continue
        func = ast.unparse(node.func)
        if func in _SPAWN or func.split(".")[-1] in {"Popen", "check_output"}:
            argv = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "args")]
            if any(_starts_the_cli(_expand(a, names)) for a in argv):
                found.append(f"{node.lineno}: {func}() of the CLI")
        root = func.split(".")[0]
        if root in from_cli_module and func.split(".")[-1] in {"main", "cli", "invoke"}:
            found.append(f"{node.lineno}: {func}() of {_CLI_MODULE} in this process")
    return found


def test_the_check_recognises_every_way_around_the_runner() -> None:
    bypasses = {
        "subprocess.run([*CLI, 'obtain'])": 1,
        "args = [*CLI, 'renew']\nsubprocess.Popen(args)": 1,
        "cmd = [sys.executable, '-m', 'certbot_like.cli.main']\nsubprocess.run(cmd)": 1,
        "CHILD = 'from certbot_like.cli.main import main'\n"
        "subprocess.run([sys.executable, '-c', CHILD])": 1,
        "subprocess.check_output(['/venv/bin/certbot-like', 'renew'])": 1,
        "os.system('certbot-like renew')": 1,
        "from click.testing import CliRunner\nCliRunner().invoke(cli, [])": 1,
        "from certbot_like.cli.main import main\nmain(['renew'])": 1,
        "from certbot_like.cli.main import cli\ncli.main(args=['renew'])": 1,
        "subprocess.run(['nginx', '-t'])": 0,
        "subprocess.run([str(certbot_bin), 'renew'])": 0,
        "subprocess.run(['systemd-analyze', 'verify', 'certbot-like-renew.service'])": 0,
        "subprocess.run(['dig', 'demo.certbot-like.test'])": 0,
    }
    for source, count in bypasses.items():
        assert len(cli_launches(source)) == count, source


def test_no_test_starts_the_cli_without_the_secret_scan() -> None:
    offenders = []
    checked = 0
    for path in sorted(TESTS.rglob("*.py")):
        rel = path.relative_to(TESTS).as_posix()
        if rel in ALLOWED or rel.split("/")[0] in ALLOWED_DIRS:
            continue
        checked += 1
        offenders += [f"tests/{rel}:{where}" for where in cli_launches(path.read_text())]
    assert checked > 50, "the check must have read the test modules"
    assert offenders == [], (
        "start certbot-like through tests.harness.clirun (or Client.run/start), which scans "
        "its output and log for secrets:\n" + "\n".join(offenders)
    )
    for rel in ALLOWED:
        assert (TESTS / rel).is_file(), f"stale entry {rel} in ALLOWED"
