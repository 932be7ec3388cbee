"""Issue a certificate for a :class:`CertRequest` and store it: shared by obtain and renew.

No hooks run here (obtain and renew run them with different rules); everything else is:
key choice, CSR, the order, the certificate checks, the lineage version and the renewal conf.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from certbot_like.errors import CertbotLikeError, UsageError, ValidationFailed
from certbot_like.interfaces import (
    Authenticator,
    ChallengeBoard,
    Display,
    HookRunner,
    PluginContext,
)
from certbot_like.plugin_options import options_to_conf
from certbot_like.protocol.issuance import OrderRequest, allowed_challenges
from certbot_like.services.accounts import Session
from certbot_like.settings import CaSettings, CertRequest, PluginChoice
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.store import CertFiles, Lineage, LineageFacts, Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObtainResult:
    """What happened, for the CLI to print (or emit as JSON)."""

    action: str  # issued | renewed | kept | dry-run | csr
    lineage: str | None
    names: tuple[str, ...]
    not_after: datetime.datetime
    key_type: str
    issuer: str
    serial: str
    paths: dict[str, Path]
    not_before: datetime.datetime | None = None
    cert_id: str | None = None
    installed_with: str | None = None
    facts: LineageFacts | None = None  # of the version stored (for the renew scan's cache)


@dataclass(frozen=True)
class Target:
    """Where the certificate goes: a new or existing lineage, or ``--csr`` output files."""

    action: str  # new | renew | csr
    name: str | None
    lineage: Lineage | None = None


def first_choice_types(req: CertRequest, authenticator: Authenticator) -> list[str]:
    """The challenge types the authenticator will most likely use (to prepare ports early).

    Raises:
        UsageError: some identifier has no usable challenge type.
    """
    types: list[str] = []
    for ident in req.identifiers:
        kind = allowed_challenges(ident, authenticator, req.preferred_challenges)[0]
        if kind not in types:
            types.append(kind)
    return types


def make_plugin(
    choice: PluginChoice,
    layout: Layout,
    display: Display,
    hooks: HookRunner,
    dry_run: bool = False,
    board: ChallengeBoard | None = None,
) -> Any:
    """Instantiate a plugin with its options and a context (*board*: the fleet's HTTP-01
    answers, with ``--store``).

    Raises:
        PluginError: the plugin cannot be imported or built.
    """
    from certbot_like.logs import register_secret

    context = PluginContext(
        register_secret=register_secret,
        config_dir=layout.config_dir,
        work_dir=layout.work_dir,
        logs_dir=layout.logs_dir,
        display=display,
        hooks=hooks,
        dry_run=dry_run,
        challenge_board=board,
    )
    plugin = choice.spec.load_factory()(choice.options, context)
    if choice.debug_challenges:
        from certbot_like.services.debug_challenges import DebugChallenges

        return DebugChallenges(plugin, display)
    return plugin


def renewal_params(
    ca: CaSettings, req: CertRequest, account_id: str, base: RenewalParams | None = None
) -> RenewalParams:
    """The stored parameters certbot (and we) need to renew this lineage unattended.

    With *base* (the lineage's current ones), keys we do not manage (another plugin's, an
    administrator's) are carried over, so a renewal never drops what certbot stored there.
    """
    from certbot_like.plugin_options import field_kinds

    plugin_keys: set[str] = set()
    for choice in (req.authenticator, req.installer):
        if choice is not None:
            plugin_keys |= {k.name for k in field_kinds(choice.spec.options)}
    base = base or RenewalParams()
    keep = base.only_extra(plugin_keys)
    rsa = req.key.key_type == "rsa"
    curve = not rsa and (
        "elliptic_curve" in req.key_user_set or req.key.elliptic_curve != "secp256r1"
    )
    params = RenewalParams(
        account=account_id,
        server=ca.server,
        authenticator=req.authenticator.spec.name,
        installer=req.installer.spec.name if req.installer else None,
        key_type=req.key.key_type,
        # The other key type's setting stays as the conf had it: certbot writes rsa_key_size
        # for an ECDSA lineage when cli.ini sets it, and a takeover must not drop it.
        rsa_key_size=req.key.rsa_key_size if rsa else base.rsa_key_size,
        elliptic_curve=req.key.elliptic_curve if curve else (base.elliptic_curve if rsa else None),
        pref_challs=tuple(req.preferred_challenges),
        preferred_chain=req.preferred_chain,
        required_profile=req.profile if req.profile_required else None,
        preferred_profile=None if req.profile_required else req.profile,
        reuse_key=True if req.reuse_key else None,
        ca_bundle=str(ca.ca_bundle) if ca.ca_bundle else None,
        ca_allow_origin=ca.allow_origins,
        pre_hook=req.hooks.pre_hook,
        post_hook=req.hooks.post_hook,
        deploy_hook=req.hooks.deploy_hook,
        renew_before_expiry=req.renew_before_expiry,
        # certbot's keys we do not manage are carried over as they are
        must_staple=base.must_staple,
        allow_subset_of_names=True if req.allow_subset_of_names else base.allow_subset_of_names,
        autorenew=False if not req.autorenew else base.autorenew,
        user_agent=base.user_agent,
        config_dir=base.config_dir,
        work_dir=base.work_dir,
        logs_dir=base.logs_dir,
        notify=req.notify or base.notify,
        extra=keep.extra,
    )
    plugin_values: dict[str, Any] = dict(req.deploy.conf_values())
    for choice in (req.authenticator, req.installer):
        if choice is not None:
            plugin_values.update(options_to_conf(choice.options, set(choice.user_set)))
    return params.merged(plugin_values)


def _certificate_key(store: Store, req: CertRequest, target: Target) -> tuple[bytes, bytes, bytes]:
    """(key PEM, CSR DER, public key DER) for this issuance.

    Raises:
        UsageError: the key to reuse cannot be read.
    """
    from certbot_like.crypto.csr import make_csr
    from certbot_like.crypto.keys import generate_key, key_to_pem, load_private_key, public_der

    if req.csr_der is not None:
        return b"", req.csr_der, req.csr_public_key or b""
    lineage = target.lineage
    reuse = (
        lineage is not None
        and not req.new_key
        and (req.reuse_key or bool(lineage.params.reuse_key))
    )
    if reuse and lineage is not None:
        try:
            pem = store.read_files(lineage.name).privkey
        except CertbotLikeError as exc:
            raise UsageError(
                f"Cannot reuse the key of {lineage.name}: {exc.message}",
                "Pass --new-key to make a new one",
            ) from None
        key = load_private_key(pem, f"{lineage.name}'s privkey.pem")
    else:
        key = generate_key(req.key)
    return key_to_pem(key), make_csr(key, req.identifiers), public_der(key)


def _without_failed(req: CertRequest, exc: ValidationFailed) -> CertRequest:
    """With ``--allow-subset-of-names``: *req* without the name that failed validation.

    Raises:
        ValidationFailed: *exc*, when the request does not allow a subset, names no failed
            identifier, or the failed name was the last one.
    """
    left = tuple(i for i in req.identifiers if i.value != exc.identifier)
    if not req.allow_subset_of_names or req.csr_der is not None or not left:
        raise exc
    if len(left) == len(req.identifiers):
        raise exc
    logger.warning(
        "%s failed validation (%s); --allow-subset-of-names: ordering %s without it",
        exc.identifier,
        exc.message,
        ", ".join(i.value for i in left),
    )
    return replace(req, identifiers=left)


def issue_and_store(
    store: Store,
    ca: CaSettings,
    req: CertRequest,
    target: Target,
    session: Session,
    authenticator: Authenticator,
    *,
    dry_run: bool = False,
    replaces: str | None = None,
) -> ObtainResult:
    """Order, validate, check and store one certificate (nothing stored with *dry_run*).

    Raises:
        AcmeError, PluginError, StorageError, CertificateCheckFailed: the previous lineage
        version stays live on any of them.
    """
    from certbot_like.crypto.certs import ari_cert_id, check_issued, describe_key, issuer_cn

    while True:
        key_pem, csr_der, public_key = _certificate_key(store, req, target)
        order = OrderRequest(
            identifiers=req.identifiers,
            csr_der=csr_der,
            preferred_challenges=req.preferred_challenges,
            profile=req.profile,
            profile_required=req.profile_required,
            preferred_chain=req.preferred_chain,
            deadline_seconds=ca.issuance_timeout,
            replaces=replaces,
        )
        try:
            issued = session.ca.issue(order, authenticator)
            break
        except ValidationFailed as exc:
            req = _without_failed(req, exc)
    chain = check_issued(issued.fullchain_pem, public_key=public_key, identifiers=req.identifiers)
    files = CertFiles(
        privkey=key_pem, cert=chain.cert_pem, chain=chain.chain_pem, fullchain=chain.fullchain_pem
    )
    leaf = chain.leaf

    def result(action: str, paths: dict[str, Path]) -> ObtainResult:
        return ObtainResult(
            action=action,
            lineage=target.name,
            paths=paths,
            names=tuple(i.value for i in req.identifiers),
            not_after=leaf.not_valid_after_utc,
            not_before=leaf.not_valid_before_utc,
            key_type=describe_key(leaf),
            issuer=issuer_cn(leaf),
            serial=format(leaf.serial_number, "x"),
            cert_id=ari_cert_id(leaf),
        )

    if dry_run:
        return result("dry-run", {})
    if target.action == "csr":
        return result("csr", write_csr_outputs(req, files))
    assert target.name is not None
    previous = target.lineage
    stored = store.save_version(
        target.name,
        files,
        renewal_params(ca, req, session.account.account_id, previous.params if previous else None),
        expect_version=previous.version if previous else None,
    )
    from certbot_like.storage.store import facts_from_pem

    return replace(
        result(
            "issued" if target.action == "new" else "renewed",
            {**stored.live, "renewal_conf": Path(stored.location)},
        ),
        facts=facts_from_pem(files.cert, stored.params, stored.location),
    )


def write_csr_outputs(req: CertRequest, files: CertFiles) -> dict[str, Path]:
    """Write ``--csr`` results to the requested paths (or certbot's ``NNNN_*.pem`` names).

    Raises:
        StorageError: a file cannot be written.
    """
    from certbot_like.storage.atomic import PUBLIC_MODE, write_file

    out = req.csr_output
    chosen = {
        "cert": out.cert_path or _numbered("cert"),
        "chain": out.chain_path or _numbered("chain"),
        "fullchain": out.fullchain_path or _numbered("fullchain"),
    }
    for kind, path in chosen.items():
        write_file(path, files.by_kind()[kind], PUBLIC_MODE)
    return chosen


def _numbered(kind: str) -> Path:
    for counter in range(10000):
        candidate = Path.cwd() / f"{counter:04d}_{kind}.pem"
        if not candidate.exists():
            return candidate
    raise UsageError(f"Too many {kind} files in the current directory", f"Pass --{kind}-path")
