"""Certificate issuance, in the order of RFC 8555 section 7.4.

newOrder -> authorizations -> challenges (all answered at once) -> poll the *order* (not each
authorization) -> finalize -> poll -> download (alternate chains only when needed).

Everything the CA sends is checked before use: identifiers against the ones requested, tokens
as strict base64url, URLs as HTTPS on the CA's own (or an allowed) origin, alternate chains
included even when none is wanted. On any failure the authorizations we left pending are
deactivated, and the authenticator's cleanup always runs.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from certbot_like.errors import (
    AcmeError,
    ProtocolViolation,
    TemporaryAcmeError,
    UsageError,
    ValidationFailed,
)
from certbot_like.interfaces import (
    CHALLENGE_TYPES,
    DNS01,
    Authenticator,
    ChallengeTask,
    Identifier,
)
from certbot_like.names import check_ca_identifier, check_token
from certbot_like.protocol.client import AcmeClient
from certbot_like.protocol.polling import Poller
from certbot_like.protocol.problems import clean_text, problem_error

logger = logging.getLogger(__name__)
PEM_CHAIN = "application/pem-certificate-chain"
DEFAULT_DEADLINE = 180.0


@dataclass(frozen=True)
class OrderRequest:
    """What to order. ``csr_der`` is the DER CSR; ``replaces`` an ARI certificate id."""

    identifiers: tuple[Identifier, ...]
    csr_der: bytes
    preferred_challenges: tuple[str, ...] = ()
    profile: str | None = None
    profile_required: bool = False
    replaces: str | None = None
    preferred_chain: str | None = None
    deadline_seconds: float = DEFAULT_DEADLINE


@dataclass(frozen=True)
class IssuedCertificate:
    """The downloaded chain (the preferred one when asked) and where it came from."""

    fullchain_pem: bytes
    order_url: str
    alternates_offered: int = 0
    chain_chosen_by_preference: bool = False


@dataclass
class _Authz:
    url: str
    identifier: Identifier
    status: str
    body: dict[str, Any]
    task: ChallengeTask | None = None
    challenge_url: str | None = None


@dataclass
class _OrderState:
    url: str
    body: dict[str, Any]
    authzs: list[_Authz] = field(default_factory=list)
    answered: bool = False


def allowed_challenges(
    identifier: Identifier, authenticator: Authenticator, preferred: Sequence[str]
) -> list[str]:
    """Challenge types usable for *identifier*, best first, before any network call.

    Raises:
        UsageError: no challenge type fits the identifier, the plugin and
            ``--preferred-challenges``.
    """
    offered = [c for c in authenticator.preferred_challenges(identifier) if c in CHALLENGE_TYPES]
    if identifier.wildcard:
        offered = [c for c in offered if c == DNS01]
    if identifier.kind == "ip":
        offered = [c for c in offered if c != DNS01]
    if preferred:
        offered = [c for c in preferred if c in offered]
    if not offered:
        if identifier.wildcard:
            raise UsageError(
                f"Wildcard name {identifier} needs the dns-01 challenge",
                "Use a DNS authenticator or --manual --preferred-challenges dns",
            )
        wanted = ", ".join(preferred) if preferred else "any challenge"
        raise UsageError(
            f"The chosen authenticator cannot answer {wanted} for {identifier}",
            "Pick another authenticator or --preferred-challenges",
        )
    return offered


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class Issuer:
    """Runs one order through to a certificate with an :class:`AcmeClient` and a solver."""

    def __init__(self, client: AcmeClient, authenticator: Authenticator) -> None:
        self.client = client
        self.authenticator = authenticator

    def issue(self, request: OrderRequest) -> IssuedCertificate:
        """Order, validate, finalize and download.

        Raises:
            UsageError: no usable challenge or profile (before any order is placed).
            ValidationFailed: a challenge failed (with the CA's detail and the name).
            AcmeError: the CA refused the order, finalization or download.
            ProtocolViolation: the CA sent something invalid (nothing was answered then).
            TemporaryAcmeError: timeouts, rate limits, network trouble.
        """
        plans = {
            ident: allowed_challenges(ident, self.authenticator, request.preferred_challenges)
            for ident in request.identifiers
        }
        profile = self._check_profile(request)
        deadline = time.monotonic() + request.deadline_seconds
        thumbprint = _b64(self.client.key.thumbprint())
        state = self._new_order(request, profile)
        try:
            self._load_authorizations(state, request, plans, thumbprint)
            tasks = [a.task for a in state.authzs if a.task is not None]
            if tasks:
                try:
                    self.authenticator.perform(tasks)
                    self._answer(state)
                    self._poll_until(state, deadline, {"pending"}, "validation")
                finally:
                    self._cleanup(tasks)
            if state.body.get("status") == "invalid":
                raise self._order_failure(state)
            if state.body.get("status") == "pending":  # every authz was valid yet still pending
                self._poll_until(state, deadline, {"pending"}, "validation")
            self._finalize(state, request, deadline)
        except BaseException:
            self._deactivate_pending(state)
            raise
        return self._download(state, request)

    # -- steps ------------------------------------------------------------------------------

    def _check_profile(self, request: OrderRequest) -> str | None:
        if not request.profile:
            return None
        offered = self.client.directory.profiles
        if request.profile in offered:
            return request.profile
        if request.profile_required or not offered:
            names = ", ".join(sorted(offered)) or "none"
            raise UsageError(
                f"The CA does not offer profile {request.profile!r} (offered: {names})",
                "Choose one of the offered profiles or drop --profile",
            )
        logger.info("Preferred profile %s not offered; using the CA's default", request.profile)
        return None

    def _new_order(self, request: OrderRequest, profile: str | None) -> _OrderState:
        payload: dict[str, Any] = {
            "identifiers": [{"type": i.kind, "value": i.value} for i in request.identifiers]
        }
        if profile:
            payload["profile"] = profile
        if request.replaces:
            payload["replaces"] = request.replaces
        url = self.client.directory.new_order
        try:
            resp = self.client.post(url, payload, what="the new order")
        except AcmeError as exc:
            if not (request.replaces and exc.problem_type == "alreadyReplaced"):
                raise
            logger.info("The CA says the certificate was already replaced; ordering anew")
            payload.pop("replaces")
            resp = self.client.post(url, payload, what="the new order")
        location = self.client.ca_url(resp.header("Location"), "the order URL")
        body = resp.json_object()
        self._check_order_identifiers(body, request.identifiers)
        return _OrderState(url=location, body=body)

    def _check_order_identifiers(
        self, body: dict[str, Any], requested: Sequence[Identifier]
    ) -> None:
        raw = body.get("identifiers")
        if not isinstance(raw, list):
            raise ProtocolViolation("The CA's order has no identifier list")
        got = {check_ca_identifier(item, requested) for item in raw}
        if got != set(requested):
            raise ProtocolViolation(
                "The CA's order does not cover exactly the requested names",
                "Nothing was answered; report this to the CA",
            )

    def _load_authorizations(
        self,
        state: _OrderState,
        request: OrderRequest,
        plans: dict[Identifier, list[str]],
        thumbprint: str,
    ) -> None:
        urls = state.body.get("authorizations")
        if not isinstance(urls, list) or not urls or len(urls) > 2 * len(request.identifiers):
            raise ProtocolViolation("The CA's order has a missing or oversized authorization list")
        seen: set[Identifier] = set()
        for raw_url in urls:
            url = self.client.ca_url(raw_url, "an authorization URL")
            body = self.client.post_as_get(url, what="fetching an authorization").json_object()
            ident = self._authz_identifier(body, request.identifiers)
            seen.add(ident)
            authz = _Authz(url=url, identifier=ident, status=str(body.get("status")), body=body)
            state.authzs.append(authz)
            if authz.status == "valid":
                continue
            if authz.status != "pending":
                raise ValidationFailed(
                    f"The authorization for {ident} is {clean_text(authz.status, 20)}",
                    "Run the command again for a fresh order",
                    identifier=ident.value,
                )
            authz.task, authz.challenge_url = self._choose(body, ident, plans[ident], thumbprint)
        if seen != set(request.identifiers):
            raise ProtocolViolation("The CA's authorizations do not cover every requested name")

    @staticmethod
    def _authz_identifier(body: dict[str, Any], requested: Sequence[Identifier]) -> Identifier:
        raw = body.get("identifier")
        if (
            body.get("wildcard") is True
            and isinstance(raw, dict)
            and isinstance(raw.get("value"), str)
        ):
            wanted = Identifier("dns", "*." + raw["value"].lower())
            if wanted in requested:
                check_ca_identifier(raw, requested)
                return wanted
        ident = check_ca_identifier(raw, requested)
        if ident.wildcard and body.get("wildcard") is not True:
            # the plain name was requested too? prefer the exact match
            plain = Identifier(ident.kind, ident.base)
            if plain in requested:
                return plain
        return ident

    def _choose(
        self, body: dict[str, Any], ident: Identifier, plan: list[str], thumbprint: str
    ) -> tuple[ChallengeTask, str]:
        challenges = body.get("challenges")
        if not isinstance(challenges, list):
            raise ProtocolViolation(f"The CA's authorization for {ident} lists no challenges")
        by_type = {c.get("type"): c for c in challenges if isinstance(c, dict)}
        for kind in plan:
            chall = by_type.get(kind)
            if chall is None:
                continue
            token = check_token(chall.get("token"))
            url = self.client.ca_url(chall.get("url"), f"the {kind} challenge URL")
            task = ChallengeTask(
                identifier=ident, kind=kind, token=token, key_authorization=f"{token}.{thumbprint}"
            )
            return task, url
        offered = ", ".join(sorted(str(t) for t in by_type)) or "none"
        raise UsageError(
            f"The CA offers {offered} for {ident}, none of which the authenticator "
            f"can answer ({', '.join(plan)})",
            "Choose another authenticator or --preferred-challenges",
        )

    def _answer(self, state: _OrderState) -> None:
        for authz in state.authzs:
            if authz.task is None or authz.challenge_url is None:
                continue
            self.client.post(
                authz.challenge_url, {}, what=f"answering the challenge for {authz.identifier}"
            )
        state.answered = True

    def _cleanup(self, tasks: list[ChallengeTask]) -> None:
        try:
            self.authenticator.cleanup(tasks)
        except Exception:  # cleanup problems must not hide the real outcome
            logger.warning("Challenge cleanup failed", exc_info=True)

    def _poll_until(
        self,
        state: _OrderState,
        deadline: float,
        waiting: set[str],
        stage: str,
        retry_after: str | None = None,
    ) -> None:
        """Poll the order until its status leaves *waiting*; the first wait honours the
        Retry-After of the answer that started the wait (RFC 8555 section 7.4)."""
        poller = Poller(deadline)
        while True:
            if not poller.wait(retry_after):
                raise TemporaryAcmeError(
                    f"The CA did not finish {stage} in time (order status "
                    f"{clean_text(state.body.get('status'), 20)})",
                    "Try again later",
                )
            resp = self.client.post_as_get(state.url, what="polling the order")
            state.body = resp.json_object()
            retry_after = resp.header("Retry-After")
            if state.body.get("status") not in waiting:
                return

    def _order_failure(self, state: _OrderState) -> AcmeError:
        for authz in state.authzs:
            if authz.task is None:
                continue
            body = self.client.post_as_get(authz.url, what="reading a failed authorization")
            data = body.json_object()
            authz.status = str(data.get("status"))  # no deactivation for what is invalid
            if data.get("status") == "invalid":
                for chall in data.get("challenges") or []:
                    if isinstance(chall, dict) and isinstance(chall.get("error"), dict):
                        err = problem_error(
                            chall["error"],
                            validation=True,
                            context=f"Validation of {authz.identifier} failed",
                        )
                        if err.identifier is None:
                            err.identifier = authz.identifier.value
                        return err
        error = state.body.get("error")
        if isinstance(error, dict):
            return problem_error(error, context="The CA marked the order invalid", validation=True)
        return ValidationFailed(
            "The CA marked the order invalid without a reason", "Run with -v and check the log"
        )

    def _finalize(self, state: _OrderState, request: OrderRequest, deadline: float) -> None:
        if state.body.get("status") != "ready":
            raise ProtocolViolation(
                f"The order is {clean_text(state.body.get('status'), 20)}, "
                "not ready, after validation"
            )
        url = self.client.ca_url(state.body.get("finalize"), "the finalize URL")
        resp = self.client.post(url, {"csr": _b64(request.csr_der)}, what="finalizing the order")
        state.body = resp.json_object()
        if state.body.get("status") in ("processing", "ready"):
            self._poll_until(
                state, deadline, {"processing", "ready"}, "issuance", resp.header("Retry-After")
            )
        if state.body.get("status") != "valid":
            error = state.body.get("error")
            if isinstance(error, dict):
                raise problem_error(error, context="The CA did not issue the certificate")
            raise AcmeError(
                f"The order ended {clean_text(state.body.get('status'), 20)} instead of valid",
                "Run the command again",
            )

    def _download(self, state: _OrderState, request: OrderRequest) -> IssuedCertificate:
        url = self.client.ca_url(state.body.get("certificate"), "the certificate URL")
        resp = self.client.post_as_get(url, what="downloading the certificate", accept=PEM_CHAIN)
        alternates = [
            self.client.ca_url(alt, "an alternate chain URL")
            for alt in _alternate_links(resp.header("Link"))
        ]
        if request.preferred_chain:
            from certbot_like.crypto.certs import chain_matches_issuer

            if not chain_matches_issuer(resp.body, request.preferred_chain):
                for alt_url in alternates:
                    alt = self.client.post_as_get(
                        alt_url,
                        what="downloading an alternate chain",
                        accept=PEM_CHAIN,
                    )
                    if chain_matches_issuer(alt.body, request.preferred_chain):
                        return IssuedCertificate(alt.body, state.url, len(alternates), True)
                logger.info(
                    "No chain matches --preferred-chain %r; using the default",
                    request.preferred_chain,
                )
            else:
                return IssuedCertificate(resp.body, state.url, len(alternates), True)
        return IssuedCertificate(resp.body, state.url, len(alternates), False)

    def _deactivate_pending(self, state: _OrderState) -> None:
        for authz in state.authzs:
            if authz.status != "pending":
                continue
            try:
                self.client.post(
                    authz.url, {"status": "deactivated"}, what="deactivating an authorization"
                )
            except Exception:  # best effort only
                logger.debug("Could not deactivate %s", authz.url, exc_info=True)


_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[A-Za-z-]+\s*=\s*(?:"[^"]*"|[^;,]*)\s*)*)')
_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))', re.I)


def _alternate_links(header: str | None) -> list[str]:
    """URLs of ``Link: <url>; rel="alternate"`` entries (RFC 8288), at most eight."""
    if not header:
        return []
    urls = []
    for match in _LINK.finditer(header):
        rel = _REL.search(match.group(2) or "")
        if rel and "alternate" in (rel.group(1) or rel.group(2) or "").split():
            urls.append(match.group(1).strip())
    return urls[:8]
