"""Issue a certificate for a :class:`CertRequest` and store it: shared by obtain and renew.

No hooks run here (obtain and renew run them with different rules); everything else is:
key choice, CSR, the order, the certificate checks, the lineage version and the renewal conf.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certbot_like import __version__
from certbot_like.errors import CertbotLikeError, UsageError
from certbot_like.interfaces import Authenticator, Display, HookRunner, PluginContext
from certbot_like.plugin_options import options_to_conf
from certbot_like.protocol.issuance import Issuer, OrderRequest, allowed_challenges
from certbot_like.services.accounts import Session
from certbot_like.settings import CaSettings, CertRequest, PluginChoice
from certbot_like.storage.layout import KINDS, Layout
from certbot_like.storage.lineage import CertFiles, LineageStore
from certbot_like.storage.renewal_conf import RenewalConf, write_renewal_conf

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


@dataclass(frozen=True)
class Target:
    """Where the certificate goes: a new or existing lineage, or ``--csr`` output files."""

    action: str  # new | renew | csr
    name: str | None
    conf: RenewalConf | None = None


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
    choice: PluginChoice, layout: Layout, display: Display, hooks: HookRunner, dry_run: bool = False
) -> Any:
    """Instantiate a plugin with its options and a context.

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
    )
    return choice.spec.load_factory()(choice.options, context)


KNOWN_PARAMS = frozenset(
    {
        "account",
        "server",
        "authenticator",
        "installer",
        "key_type",
        "rsa_key_size",
        "elliptic_curve",
        "pref_challs",
        "preferred_chain",
        "required_profile",
        "preferred_profile",
        "reuse_key",
        "ca_bundle",
        "pre_hook",
        "post_hook",
        "deploy_hook",
        "renew_hook",
        "renew_before_expiry",
    }
)


def renewal_params(
    ca: CaSettings, req: CertRequest, account_id: str, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``[renewalparams]`` certbot (and we) need to renew this lineage unattended.

    With *base* (the conf's current values), keys we do not manage are carried over, so a
    renewal never drops what certbot or an administrator stored there.
    """
    from certbot_like.plugin_options import field_kinds

    managed = set(KNOWN_PARAMS)
    for choice in (req.authenticator, req.installer):
        if choice is not None:
            managed |= {k.name for k in field_kinds(choice.spec.options)}
    params: dict[str, Any] = {k: v for k, v in (base or {}).items() if k not in managed}
    params.update(
        {
            "account": account_id,
            "server": ca.server,
            "authenticator": req.authenticator.spec.name,
            "key_type": req.key.key_type,
        }
    )
    if req.key.key_type == "rsa":
        params["rsa_key_size"] = req.key.rsa_key_size
    elif "elliptic_curve" in req.key_user_set or req.key.elliptic_curve != "secp256r1":
        params["elliptic_curve"] = req.key.elliptic_curve
    if req.installer:
        params["installer"] = req.installer.spec.name
    optional = {
        "pref_challs": list(req.preferred_challenges) or None,
        "preferred_chain": req.preferred_chain,
        "required_profile" if req.profile_required else "preferred_profile": req.profile,
        "reuse_key": True if req.reuse_key else None,
        "ca_bundle": str(ca.ca_bundle) if ca.ca_bundle else None,
        "pre_hook": req.hooks.pre_hook,
        "post_hook": req.hooks.post_hook,
        "deploy_hook": req.hooks.deploy_hook,
        "renew_before_expiry": req.renew_before_expiry,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    for choice in (req.authenticator, req.installer):
        if choice is not None:
            params.update(options_to_conf(choice.options, set(choice.user_set)))
    return params


def _certificate_key(req: CertRequest, target: Target) -> tuple[bytes, bytes, bytes]:
    """(key PEM, CSR DER, public key DER) for this issuance."""
    from certbot_like.crypto.csr import make_csr
    from certbot_like.crypto.keys import generate_key, key_to_pem, load_private_key, public_der

    if req.csr_der is not None:
        return b"", req.csr_der, req.csr_public_key or b""
    conf = target.conf
    reuse = conf is not None and not req.new_key and (req.reuse_key or conf.get_bool("reuse_key"))
    if reuse and conf is not None:
        key_path = conf.live["privkey"]
        try:
            key = load_private_key(key_path.read_bytes(), str(key_path))
        except OSError as exc:
            raise UsageError(
                f"Cannot reuse the key {key_path}: {exc.strerror}",
                "Pass --new-key to make a new one",
            ) from None
    else:
        key = generate_key(req.key)
    return key_to_pem(key), make_csr(key, req.identifiers), public_der(key)


def issue_and_store(
    layout: Layout,
    ca: CaSettings,
    req: CertRequest,
    target: Target,
    session: Session,
    authenticator: Authenticator,
    *,
    dry_run: bool = False,
    replaces: str | None = None,
    base_params: Mapping[str, Any] | None = None,
) -> ObtainResult:
    """Order, validate, check and store one certificate (nothing stored with *dry_run*).

    Raises:
        AcmeError, PluginError, StorageError, CertificateCheckFailed: the previous lineage
        version stays live on any of them.
    """
    from certbot_like.crypto.certs import check_issued, describe_key, issuer_cn
    from certbot_like.protocol.ari import ari_cert_id

    key_pem, csr_der, public_key = _certificate_key(req, target)
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
    issued = Issuer(session.client, authenticator).issue(order)
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
    conf = target.conf
    LineageStore(layout).save_version(
        target.name,
        files,
        archive_dir=conf.archive_dir if conf else None,
        live_dir=conf.live["cert"].parent if conf else None,
    )
    conf_path = write_renewal_conf(
        layout,
        target.name,
        renewal_params(ca, req, session.account.account_id, base_params),
        __version__,
    )
    live = conf.live if conf else {k: layout.live_dir(target.name) / f"{k}.pem" for k in KINDS}
    return result(
        "issued" if target.action == "new" else "renewed", {**live, "renewal_conf": conf_path}
    )


def run_hook(
    hooks: HookRunner,
    command: str | None,
    env: dict[str, str],
    what: str,
    raise_errors: bool = True,
) -> None:
    """Run one operator hook (data only in *env*); log instead of raising when asked.

    Raises:
        HookError: the hook failed and *raise_errors* is set.
    """
    if not command:
        return
    try:
        hooks.run(command, env, what=what)
    except CertbotLikeError:
        if raise_errors:
            raise
        logger.warning("%s failed", what, exc_info=True)


def deploy_env(result: ObtainResult) -> dict[str, str]:
    """certbot's deploy-hook environment for a stored certificate."""
    return {
        "RENEWED_LINEAGE": str(result.paths["fullchain"].parent),
        "RENEWED_DOMAINS": " ".join(result.names),
    }


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
