"""Validation of identifiers (domain names, IP addresses), lineage names and ACME tokens.

Everything that comes from an operator's command line or from a CA passes through here
before it reaches a path, a shell, a hook or a request. The functions are pure and strict:
they return a normalised value or raise :class:`~certbot_like.errors.UsageError` (operator
input) / :class:`~certbot_like.errors.ProtocolViolation` (CA input) with a one-line reason.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Sequence

from certbot_like.errors import ProtocolViolation, UsageError
from certbot_like.idn import check_a_labels, to_ascii
from certbot_like.interfaces import Identifier

MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")  # use fullmatch: "$" matches before "\n"
_LINEAGE = re.compile(r"[A-Za-z0-9:][A-Za-z0-9._:_-]{0,251}")  # fullmatch; ":" starts "::1"
_SHELL_META = set("`$;&|<>()\\'\"!{}[]~?#%^ \t\r\n")
MIN_TOKEN_LENGTH = 22  # 128 bits of entropy in base64url (RFC 8555 section 8.1)
MAX_TOKEN_LENGTH = 512


def _reason_for_bad_name(name: str) -> str | None:
    """Why *name* (already lower-cased, no wildcard prefix) is not a valid DNS name."""
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"it is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    url = "it looks like a URL; give the host name only (example.com)"
    if "://" in name:
        return url
    if any(ch in _SHELL_META for ch in name) or not name.isprintable():
        return "it contains spaces, control or shell characters"
    if "/" in name:  # after the shell check: "a.test;rm -rf /" is not a URL
        return url
    if not name.isascii():
        return "it is not ASCII"  # parse_identifier converts IDNs before this check
    if name.endswith("."):
        return "it ends with a dot; leave the trailing dot out"
    labels = name.split(".")
    if len(labels) < 2:
        return "it has a single label; certificates need a fully qualified name"
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH:
            return f"label {label[:20]!r}... is longer than {MAX_LABEL_LENGTH} characters"
        if not _LABEL.match(label):
            return f"label {label!r} may only hold letters, digits and inner hyphens"
    if labels[-1].isdigit():
        return "its last label is numeric (an IP address? give it without a wildcard)"
    return check_a_labels(name)


def _to_a_labels(name: str) -> tuple[str, str | None]:
    """*name* (no wildcard prefix) with U-labels converted to A-labels, and why it cannot be
    (``None`` when it can, or when the name is ASCII and left to the other checks)."""
    if name.isascii():
        return name, None
    # Format characters (joiners) are IDNA's to judge; other controls and spaces are ours.
    shell = any(
        ch in _SHELL_META
        or (unicodedata.category(ch)[0] in "CZ" and unicodedata.category(ch) != "Cf")
        for ch in name
    )
    if shell or "/" in name:
        return name, _reason_for_bad_name(name)
    converted, reason = to_ascii(name)
    return (converted, None) if converted is not None else (name, reason)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address *text* holds (bare, or in one pair of brackets as in ``[::1]``), else None."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_identifier(raw: str, *, allow_wildcard: bool = True) -> Identifier:
    """Turn one operator-given name into an :class:`Identifier`.

    Raises:
        UsageError: the name is empty, too long, a URL, has a bad label, shell
            metacharacters, is an internationalised name that cannot be converted to
            A-labels (IDNA 2008, UTS #46), or is a wildcard where none is allowed.
    """
    text = raw.strip()
    address = _parse_ip(text)
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
            raise UsageError(
                f"Invalid IP address {_printable(raw)}: it has a zone index (%...)",
                "Give the address without the %zone suffix",
            )
        return Identifier("ip", address.compressed)
    # Non-ASCII names are mapped by UTS #46 (which also lower-cases) and converted to A-labels
    # first; a non-ASCII spelling of an ASCII name (KELVIN SIGN for "k") is refused there.
    name = text.lower() if text.isascii() else text
    wildcard = name.startswith("*.")
    base = name[2:] if wildcard else name
    base, reason = _to_a_labels(base)
    name = "*." + base if wildcard else base
    if reason is None:
        reason = (
            _reason_for_bad_name(base)
            if "*" not in base
            else "a '*' may only be the whole first label"
        )
    if reason is None and len(name) > MAX_NAME_LENGTH:
        reason = f"it is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    if reason:
        raise UsageError(
            f"Invalid domain name {_printable(raw)}: {reason}",
            "Fix the -d value and run the command again",
        )
    if wildcard and not allow_wildcard:
        raise UsageError(
            f"Wildcard name {name} needs the dns-01 challenge",
            "Use a DNS authenticator (e.g. --dns-rfc2136) or --manual --preferred-challenges dns",
        )
    return Identifier("dns", name)


def parse_domain_args(values: Iterable[str]) -> list[Identifier]:
    """Split comma-separated ``-d`` values, validate each and drop duplicates (keep order).

    Raises:
        UsageError: any name is invalid, or a value is an empty list entry.
    """
    seen: dict[Identifier, None] = {}
    for value in values:
        parts = [part.strip() for part in value.split(",")]
        if not any(parts):
            raise UsageError("Empty domain name in -d", "Give a name such as -d example.com")
        for part in parts:
            if part:  # "a.test," is tolerated, as certbot does
                seen.setdefault(parse_identifier(part), None)
    return list(seen)


def check_ca_identifier(raw: object, requested: Sequence[Identifier]) -> Identifier:
    """Check an identifier the CA sent back against the ones we asked for.

    Raises:
        ProtocolViolation: the CA's identifier is malformed or was not requested.
    """
    if not isinstance(raw, dict):
        raise ProtocolViolation("The CA sent an authorization without a valid identifier")
    kind, value = raw.get("type"), raw.get("value")
    if kind not in ("dns", "ip") or not isinstance(value, str):
        raise ProtocolViolation(f"The CA sent an identifier of unknown type {_printable(kind)}")
    try:
        ident = parse_identifier(value) if kind == "dns" else Identifier("ip", value)
    except UsageError as exc:
        raise ProtocolViolation(f"The CA sent a malformed identifier: {exc.message}") from None
    if ident.kind != kind:
        raise ProtocolViolation(f"The CA sent a {kind} identifier holding {_printable(value)}")
    # An authorization for *.example.com carries identifier example.com with wildcard: true.
    candidates = {ident, Identifier(ident.kind, "*." + ident.value)}
    for wanted in requested:
        if wanted in candidates or (
            wanted.kind == "ip" and kind == "ip" and _same_ip(wanted.value, value)
        ):
            return wanted
    raise ProtocolViolation(
        f"The CA sent an authorization for {_printable(value)}, which was not requested",
        "Nothing was answered; report this to the CA",
    )


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def check_token(raw: object) -> str:
    """Validate a challenge token exactly as the CA sent it (RFC 8555 section 8.3).

    Raises:
        ProtocolViolation: not a string of 22..512 base64url characters without padding.
    """
    if not isinstance(raw, str):
        raise ProtocolViolation("The CA sent a challenge without a token string")
    if not (MIN_TOKEN_LENGTH <= len(raw) <= MAX_TOKEN_LENGTH) or not _TOKEN.fullmatch(raw):
        raise ProtocolViolation(
            f"The CA sent an invalid challenge token {_printable(raw[:40])}",
            "Tokens must be 22 to 512 base64url characters; nothing was written or answered",
        )
    return raw


def lineage_name_for(identifiers: Sequence[Identifier]) -> str:
    """certbot's default lineage name: the first name, without a wildcard prefix."""
    first = identifiers[0].value
    return first[2:] if first.startswith("*.") else first


def check_lineage_name(name: str) -> str:
    """Make sure *name* is a safe file name for ``live/<name>`` and ``renewal/<name>.conf``.

    Raises:
        UsageError: the name is empty, has a slash, starts with a dot or holds odd characters.
    """
    if not _LINEAGE.fullmatch(name) or name in (".", ".."):
        raise UsageError(
            f"Invalid certificate name {_printable(name)}",
            "Use letters, digits, dots, hyphens and underscores only (no slash, no leading dot)",
        )
    return name


def _printable(value: object) -> str:
    """A short, single-line, quoted representation safe to put in a message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
