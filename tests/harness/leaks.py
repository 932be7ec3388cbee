"""The secret scanner every CLI run in the tests passes through (see :mod:`tests.harness.clirun`).

:func:`find_leaks` looks in a text for

- a PEM private key block (``-----BEGIN ... PRIVATE KEY-----``, any flavour);
- a private JWK member with a value: ``"d"``, ``"p"``, ``"q"``, ``"dp"``, ``"dq"``, ``"qi"``
  (and ``"k"``, the key of a symmetric JWK) in JSON or in a Python repr, unless masked;
- any secret value known to the test: the ones registered with :func:`register_secret`
  (the harness registers each BIND TSIG secret, each EAB HMAC key of a CA it starts, each
  acme-dns password it hands out) and the ones :func:`secrets_in_args` and
  :func:`secrets_in_config_dir` find (``--eab-hmac-key`` values, secrets in credential
  files named on the command line, account keys and lineage keys the run wrote).

:func:`assert_no_leaks` raises :class:`SecretLeak` (an ``AssertionError``) naming what leaked
and where, with the secret itself masked so that the test report does not leak it either.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
#: A private JWK member with a real value (base64url, 16+ characters), quoted JSON or repr.
#: Masked values (``"d": "***"``) do not match.
JWK_PRIVATE_MEMBER = re.compile(
    r"""["'](?P<member>d|p|q|dp|dq|qi|k)["']\s*:\s*["'](?P<value>[A-Za-z0-9_-]{16,}=*)["']"""
)
#: Flags whose value is a secret (``--eab-hmac-key KEY`` or ``--eab-hmac-key=KEY``);
#: notification and ping URLs carry tokens.
SECRET_FLAGS = re.compile(
    r"^--([a-z0-9-]*(hmac-key|secret|password|api-key|token)|notify|ping-url)$"
)
#: Keys of credential files (INI or JSON) whose value is a secret.
SECRET_KEYS = re.compile(r"(secret|password|passwd|hmac|api_?key|token)", re.I)
#: Options whose value is a credential file to read secrets from.
CREDENTIAL_FLAGS = re.compile(r"^--[a-z0-9-]*credentials$")
MIN_SECRET = 8  # what certbot_like.logs.register_secret also ignores below

_registered: set[str] = set()
_lock = threading.Lock()


class SecretLeak(AssertionError):
    """Secret material in a CLI run's output or log."""


@dataclass(frozen=True)
class Leak:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.what} in {self.where}"


def register_secret(value: str | None) -> None:
    """Every later scan in this process also looks for *value* (8+ characters)."""
    if value and len(value) >= MIN_SECRET:
        with _lock:
            _registered.add(value)


def registered_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_registered)


def _mask(secret: str) -> str:
    return f"{secret[:3]}...({len(secret)} characters)"


def find_leaks(text: str, where: str, secrets: Iterable[str] = ()) -> list[Leak]:
    """Every leak in *text* (labelled *where*): PEM keys, private JWK members, *secrets*."""
    leaks: list[Leak] = []
    for found in PEM_PRIVATE_KEY.finditer(text):
        leaks.append(Leak(where, f"a PEM private key block ({found.group(0)!r})"))
    for found in JWK_PRIVATE_MEMBER.finditer(text):
        member = found.group("member")
        leaks.append(Leak(where, f'the private JWK member "{member}" with a value'))
    for secret in sorted(set(secrets) | registered_secrets()):
        if len(secret) >= MIN_SECRET and secret in text:
            leaks.append(Leak(where, f"a secret known to the test ({_mask(secret)})"))
    return leaks


def assert_no_leaks(texts: Iterable[tuple[str, str]], secrets: Iterable[str] = ()) -> None:
    """Raise :class:`SecretLeak` if any ``(where, text)`` holds secret material."""
    known = set(secrets)
    leaks = [leak for where, text in texts for leak in find_leaks(text, where, known)]
    if leaks:
        raise SecretLeak("secret material leaked: " + "; ".join(map(str, leaks)))


# -- secrets a run knows about --------------------------------------------------------------


def option_value(args: Sequence[str], flag: str) -> str | None:
    """The value of ``flag VALUE`` or ``flag=VALUE`` in *args* (the last one), or None."""
    value = None
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(flag + "="):
            value = arg[len(flag) + 1 :]
    return value


def _flag_values(args: Sequence[str], pattern: re.Pattern[str]) -> list[str]:
    values = []
    for index, arg in enumerate(args):
        flag, eq, inline = arg.partition("=")
        if not pattern.match(flag):
            continue
        if eq:
            values.append(inline)
        elif index + 1 < len(args):
            values.append(args[index + 1])
    return values


def _secret_values(doc: object) -> Iterable[str]:
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            if isinstance(value, str) and SECRET_KEYS.search(str(key)):
                yield value
            else:
                yield from _secret_values(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from _secret_values(item)


def secrets_in_file(path: Path) -> set[str]:
    """Secret values in a credential file: INI (``key = value``) or JSON."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return set()
    try:
        return set(_secret_values(json.loads(text)))
    except ValueError:
        pass
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string("[top]\n" + text)
    except configparser.Error:
        return set()
    return {
        value.strip().strip('"')
        for section in parser.sections()
        for key, value in parser.items(section)
        if SECRET_KEYS.search(key)
    }


def secrets_in_args(args: Sequence[str], cwd: Path | None = None) -> set[str]:
    """Secret flag values and the secrets of credential files named in *args*."""
    found = set(_flag_values(args, SECRET_FLAGS))
    for value in _flag_values(args, CREDENTIAL_FLAGS):
        path = Path(value)
        if not path.is_absolute() and cwd is not None:
            path = cwd / path
        found |= secrets_in_file(path)
    return {s for s in found if len(s) >= MIN_SECRET}


_JWK_PRIVATE_NAMES = ("d", "p", "q", "dp", "dq", "qi", "k")


def secrets_in_config_dir(config_dir: Path) -> set[str]:
    """The private parts of every account key, lineage key and acme-dns account stored.

    Account keys: the values of their private JWK members. Lineage keys: 40 characters from
    the middle of the PEM body (the private scalar or primes, never only public parts), so a
    key printed without its ``BEGIN`` line is found too.
    """
    found: set[str] = set()
    for path in config_dir.glob("accounts/**/*.json"):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            found |= {str(doc[m]) for m in _JWK_PRIVATE_NAMES if isinstance(doc.get(m), str)}
    for path in config_dir.glob("archive/*/privkey*.pem"):
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        body = "".join(line.strip() for line in lines if line and not line.startswith("-----"))
        if len(body) >= 80:
            middle = len(body) // 2
            found.add(body[middle - 20 : middle + 20])
    for path in config_dir.glob("acme-dns/*/*.json"):
        found |= secrets_in_file(path)
    for path in config_dir.glob("store.key"):  # a fleet's sealing key: its base64 body
        with contextlib.suppress(OSError):
            found.add(path.read_text().rpartition(":")[2].strip())
    return {s for s in found if len(s) >= MIN_SECRET}


def log_texts(logs_dir: Path, since: float | None = None) -> list[tuple[str, str]]:
    """``(path, text)`` of the files in *logs_dir* (changed at or after *since*, a time.time())."""
    texts = []
    if not logs_dir.is_dir():
        return texts
    for path in sorted(logs_dir.rglob("*")):
        try:
            if not path.is_file() or (since is not None and path.stat().st_mtime < since):
                continue
            texts.append((str(path), path.read_text(errors="replace")))
        except OSError:
            continue
    return texts
