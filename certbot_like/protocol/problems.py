"""ACME problem documents (RFC 7807 / RFC 8555 section 6.7) become typed errors here, once."""

from __future__ import annotations

from typing import Any

from certbot_like.errors import (
    AcmeError,
    ProtocolViolation,
    TemporaryAcmeError,
    ValidationFailed,
)
from certbot_like.protocol.polling import parse_retry_after

ACME_PREFIX = "urn:ietf:params:acme:error:"
MAX_DETAIL = 300

# problem type -> (error class, hint)
_HINTS: dict[str, tuple[type[AcmeError], str]] = {
    "rateLimited": (TemporaryAcmeError, "The CA's rate limit was hit; try again later"),
    "serverInternal": (TemporaryAcmeError, "The CA had an internal error; try again later"),
    "unauthorized": (
        ValidationFailed,
        "Make sure the name points at this server and the challenge is reachable",
    ),
    "incorrectResponse": (
        ValidationFailed,
        "The CA fetched a wrong answer; check what serves the challenge",
    ),
    "connection": (
        ValidationFailed,
        "The CA could not connect; check DNS records and firewalls for port 80/443",
    ),
    "dns": (ValidationFailed, "The CA's DNS lookup failed; check the name's DNS records"),
    "tls": (ValidationFailed, "The CA's TLS connection failed during validation"),
    "caa": (AcmeError, "A CAA record forbids this CA; add one that allows it"),
    "rejectedIdentifier": (AcmeError, "The CA will not issue for this name (policy or blocklist)"),
    "unsupportedIdentifier": (AcmeError, "The CA does not support this kind of identifier"),
    "badCSR": (AcmeError, "The CA rejected the certificate request; check --csr or the key type"),
    "badPublicKey": (AcmeError, "The CA does not accept this key; try another --key-type"),
    "externalAccountRequired": (
        AcmeError,
        "This CA requires External Account Binding: pass --eab-kid and --eab-hmac-key",
    ),
    "accountDoesNotExist": (
        AcmeError,
        "The account is unknown to this CA; run `certbot-like register`",
    ),
    "unauthorizedAccount": (AcmeError, "The account is not allowed to do this"),
    "userActionRequired": (AcmeError, "Visit the URL the CA gives (new terms of service?)"),
    "badRevocationReason": (AcmeError, "Use another --reason"),
    "alreadyRevoked": (AcmeError, "The certificate was already revoked"),
    "alreadyReplaced": (AcmeError, "The certificate was already replaced"),
    "invalidProfile": (AcmeError, "The CA does not offer this profile; check --profile"),
    "badSignatureAlgorithm": (AcmeError, "The CA does not accept the account key's algorithm"),
    "malformed": (AcmeError, "The CA rejected the request as malformed"),
    "orderNotReady": (AcmeError, "The order is not ready for finalization"),
}

_UNAUTHORIZED_REQUEST = (
    "The CA did not allow this request; check the account, its External Account Binding "
    "(--eab-kid, --eab-hmac-key) and the CA's policy"
)


def clean_text(value: object, limit: int = MAX_DETAIL) -> str:
    """CA-supplied text made safe for one terminal line: printable, bounded."""
    text = value if isinstance(value, str) else ""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_type(problem: dict[str, Any]) -> str:
    """``urn:ietf:params:acme:error:rateLimited`` -> ``rateLimited``."""
    ptype = problem.get("type")
    if not isinstance(ptype, str):
        return "unknown"
    return clean_text(ptype[len(ACME_PREFIX) :] if ptype.startswith(ACME_PREFIX) else ptype, 80)


def _identifier_of(problem: dict[str, Any]) -> str | None:
    ident = problem.get("identifier")
    if isinstance(ident, dict) and isinstance(ident.get("value"), str):
        return clean_text(ident["value"], 260)
    subs = problem.get("subproblems")
    if isinstance(subs, list):
        for sub in subs:
            if isinstance(sub, dict):
                found = _identifier_of(sub)
                if found:
                    return found
    return None


def problem_error(
    problem: Any,
    *,
    status: int | None = None,
    retry_after: str | None = None,
    context: str = "The CA refused the request",
    validation: bool = False,
) -> AcmeError:
    """Turn a problem document into the matching :class:`AcmeError` subclass.

    *context* starts the message (what we were doing); *validation* marks problems found in a
    challenge (they become :class:`ValidationFailed` whatever their type, except the policy
    refusals ``caa`` and ``rejectedIdentifier``). ``unauthorized`` outside a validation is the
    CA refusing the request itself (account, EAB), a plain :class:`AcmeError`.
    """
    if not isinstance(problem, dict):
        if status is not None and status >= 500:
            return TemporaryAcmeError(
                f"{context}: HTTP {status} from the CA", "Try again later", status=status
            )
        answer = f"HTTP {status}" if status is not None else "an answer"
        return ProtocolViolation(f"{context}: {answer} without a problem document", status=status)
    ptype = short_type(problem)
    detail = clean_text(problem.get("detail"))
    ident = _identifier_of(problem)
    cls, hint = _HINTS.get(ptype, (AcmeError, "See the CA's documentation for this error"))
    if ptype == "unauthorized" and not validation:
        # Not a challenge: the CA refused the request itself (e.g. a bad EAB MAC on newAccount).
        cls, hint = AcmeError, _UNAUTHORIZED_REQUEST
    if status is not None and status >= 500 and cls is AcmeError:
        cls = TemporaryAcmeError
    if validation and cls is AcmeError and ptype not in ("caa", "rejectedIdentifier"):
        cls = ValidationFailed
    seconds = parse_retry_after(retry_after)
    if ptype == "rateLimited" and seconds is not None:
        hint = f"The CA's rate limit was hit; retry after {int(seconds)} s"
    if ptype == "userActionRequired" and isinstance(problem.get("instance"), str):
        hint = f"Visit {clean_text(problem['instance'], 200)}"
    where = f" for {ident}" if ident else ""
    message = f"{context}{where}: {ptype}: {detail}" if detail else f"{context}{where}: {ptype}"
    return cls(
        message,
        hint,
        problem_type=ptype,
        detail=detail,
        identifier=ident,
        retry_after=seconds,
        status=status,
    )
