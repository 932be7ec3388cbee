"""``certbot-like obtain`` (alias ``certonly``): get a certificate and store it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.deploy import deploy_options
from certbot_like.cli.options import (
    F,
    account_options,
    cert_name_option,
    common_options,
    domains_option,
    json_option,
    opt,
    was_set,
)
from certbot_like.cli.output import print_json
from certbot_like.idn import to_unicode

if TYPE_CHECKING:
    from certbot_like.services.issue import ObtainResult
    from certbot_like.settings import CertRequest

OBTAIN_HELP = """Obtain a certificate and store it in certbot's layout.

\b
Examples:
  certbot-like obtain -d example.com -d www.example.com --webroot -w /var/www/html
  certbot-like obtain -d example.com --standalone --email ops@example.com --agree-tos
  certbot-like obtain -d example.com --manual --manual-auth-hook /usr/local/bin/auth.sh
  certbot-like obtain --csr req.pem --standalone --fullchain-path /etc/ssl/site.pem
  certbot-like obtain -d example.com --nginx --redirect     (validate and install via nginx)
  certbot-like obtain -d example.com --webroot -w /srv/www --installer apache

With an installer (--nginx, --apache, -i NAME) the certificate is also deployed into the
server and the server reloaded; `certonly` never installs. An existing certificate with the
same names is kept until it is due (use --force-renewal to renew now). Exit codes:
docs/exit-codes.md."""


def cert_options(func: F) -> F:
    """The certificate flags shared by obtain and (later) renew/run."""
    decorators = [
        domains_option,
        opt(
            "--ip-address",
            "ip_addresses",
            multiple=True,
            metavar="IP",
            help="IP address to certify (RFC 8738; repeat or comma-separate), as certbot 5.3+.",
        ),
        cert_name_option(),
        opt(
            "--key-type",
            type=click.Choice(["ecdsa", "rsa"]),
            default="ecdsa",
            help="Type of the certificate's private key.",
        ),
        opt(
            "--rsa-key-size",
            type=click.Choice(["2048", "3072", "4096"]),
            default="2048",
            help="Size of an RSA key.",
        ),
        opt(
            "--elliptic-curve",
            type=click.Choice(["secp256r1", "secp384r1"]),
            default="secp256r1",
            help="Curve of an ECDSA key.",
        ),
        opt(
            "--reuse-key/--no-reuse-key",
            default=False,
            help="Keep the lineage's private key on renewal (stored in the renewal conf).",
        ),
        opt("--new-key", is_flag=True, help="Make a new key this time, even with --reuse-key."),
        opt(
            "--csr",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="Use this certificate signing request (PEM or DER); no lineage is created.",
        ),
        opt(
            "--cert-path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="With --csr: where to write the certificate.",
        ),
        opt(
            "--fullchain-path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="With --csr: where to write the full chain.",
        ),
        opt(
            "--chain-path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="With --csr: where to write the chain.",
        ),
        opt(
            "--preferred-challenges",
            metavar="TYPES",
            multiple=True,
            help="Challenge types in order of preference, e.g. 'dns-01,http-01' "
            "(short forms http, dns, tls-alpn accepted).",
        ),
        opt(
            "--preferred-chain",
            metavar="ISSUER_CN",
            help="If the CA offers several chains, use the one whose top certificate was "
            "issued by this Common Name.",
        ),
        opt(
            "--profile",
            "--required-profile",
            "profile",
            metavar="NAME",
            help="ACME profile to request; fail if the CA does not offer it.",
        ),
        opt(
            "--preferred-profile",
            metavar="NAME",
            help="ACME profile to request when the CA offers it.",
        ),
        opt(
            "--force-renewal",
            "--renew-by-default",
            "force_renewal",
            is_flag=True,
            help="Renew even if the existing certificate is not due.",
        ),
        opt(
            "--expand",
            is_flag=True,
            help="Add new names to an existing certificate that covers some of them.",
        ),
        opt(
            "--duplicate",
            is_flag=True,
            help="Make a separate lineage (NAME-0001) even when one has the same names.",
        ),
        opt(
            "--allow-subset-of-names",
            is_flag=True,
            help="When some names fail validation, get the certificate for the others "
            "(stored: renewals do the same).",
        ),
        opt(
            "--debug-challenges",
            is_flag=True,
            help="Show the challenges once they are in place and wait for Enter before the CA "
            "validates them (without a terminal: show them and go on).",
        ),
        opt(
            "--no-autorenew",
            is_flag=True,
            help="Store autorenew = False: `renew` then skips the lineage unless forced.",
        ),
        opt("--pre-hook", metavar="CMD", help="Run before the challenges are set up."),
        opt("--post-hook", metavar="CMD", help="Run after the attempt, whatever its outcome."),
        opt(
            "--deploy-hook",
            "--renew-hook",
            "deploy_hook",
            metavar="CMD",
            help="Run after a certificate is stored; gets RENEWED_LINEAGE and "
            "RENEWED_DOMAINS in its environment.",
        ),
        opt(
            "--redirect/--no-redirect",
            default=False,
            help="With an installer: redirect HTTP to HTTPS (301).",
        ),
        opt(
            "--hsts/--no-hsts",
            default=False,
            help="With an installer: send Strict-Transport-Security on HTTPS.",
        ),
        opt(
            "--hook-timeout",
            type=click.FloatRange(1, 86400),
            default=300.0,
            help="Seconds a hook may run before it is killed.",
        ),
    ]
    func = deploy_options(func)  # listed last in --help
    func = opt(
        "--notify",
        multiple=True,
        metavar="URL",
        help="Also notify this apprise URL about this certificate's renewals (stored in its "
        "renewal conf, which then becomes readable by root only; see docs/monitoring.md).",
    )(func)
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def build_request(
    ctx: click.Context, kw: dict[str, Any], *, need_identifiers: bool = True, install: bool = True
) -> CertRequest:
    """A :class:`~certbot_like.settings.CertRequest` from the flags.

    Raises:
        UsageError: bad names, no authenticator, conflicting flags.
        ConfigError: an unreadable --csr.
    """
    from certbot_like.challenges import parse_challenge_types
    from certbot_like.cli.deploy import deploy_settings
    from certbot_like.cli.plugin_choice import build_choice, choose_plugin_names
    from certbot_like.errors import UsageError
    from certbot_like.keyspec import KeySpec
    from certbot_like.services.obtain import identifiers_from
    from certbot_like.settings import CertRequest, CsrOutput, HookSettings

    csr = None
    if kw.get("csr"):
        from certbot_like.crypto.csr import load_csr

        csr = load_csr(Path(kw["csr"]).read_bytes(), str(kw["csr"]))
        identifiers = csr.identifiers
        if kw.get("ip_addresses"):
            raise UsageError("--ip-address and --csr both given", "The CSR names the addresses")
        if kw.get("domains") and set(identifiers_from(kw["domains"])) != set(identifiers):
            raise UsageError(
                "The -d names differ from the names in --csr", "Drop -d or make it match the CSR"
            )
    else:
        if any(kw.get(k) for k in ("cert_path", "fullchain_path", "chain_path")):
            raise UsageError(
                "--cert-path, --fullchain-path and --chain-path need --csr",
                "Without --csr the files go to live/NAME/",
            )
        given = (*(kw.get("domains") or ()), *ip_addresses(kw.get("ip_addresses") or ()))
        identifiers = identifiers_from(given) if need_identifiers else ()
    auth_name, inst_name = choose_plugin_names(kw, need_authenticator=True, both_roles=install)
    assert auth_name is not None
    authenticator = build_choice(auth_name, ctx, kw)
    if kw.get("debug_challenges"):
        from dataclasses import replace

        authenticator = replace(authenticator, debug_challenges=True)
    installer = build_choice(inst_name, ctx, kw) if inst_name else None
    key = KeySpec(
        key_type=kw["key_type"],
        rsa_key_size=int(kw["rsa_key_size"]),
        elliptic_curve=kw["elliptic_curve"],
    )
    key_set = frozenset(
        n for n in ("key_type", "rsa_key_size", "elliptic_curve") if was_set(ctx, n)
    )
    required, preferred = kw.get("profile"), kw.get("preferred_profile")
    if required and preferred:
        raise UsageError("--profile and --preferred-profile both given", "Give one of them")
    return CertRequest(
        identifiers=identifiers,
        authenticator=authenticator,
        installer=installer,
        cert_name=kw.get("cert_name"),
        key=key,
        key_user_set=key_set,
        reuse_key=bool(kw.get("reuse_key")),
        new_key=bool(kw.get("new_key")),
        preferred_challenges=parse_challenge_types(kw.get("preferred_challenges") or ()),
        preferred_chain=kw.get("preferred_chain"),
        profile=required or preferred,
        profile_required=preferred is None,
        force_renewal=bool(kw.get("force_renewal")),
        expand=bool(kw.get("expand")),
        duplicate=bool(kw.get("duplicate")),
        allow_subset_of_names=bool(kw.get("allow_subset_of_names")),
        autorenew=not kw.get("no_autorenew"),
        csr_der=csr.der if csr else None,
        csr_public_key=csr.public_key_der if csr else None,
        csr_output=CsrOutput(
            cert_path=kw.get("cert_path"),
            fullchain_path=kw.get("fullchain_path"),
            chain_path=kw.get("chain_path"),
        ),
        hooks=HookSettings(
            pre_hook=kw.get("pre_hook"),
            post_hook=kw.get("post_hook"),
            deploy_hook=kw.get("deploy_hook"),
            timeout=float(kw.get("hook_timeout") or 300.0),
            directory_hooks=not kw.get("no_directory_hooks"),
            run_deploy_hooks=bool(kw.get("run_deploy_hooks")),
        ),
        deploy=deploy_settings(kw),
        notify=tuple(u for u in kw.get("notify") or () if u),
        install=install and inst_name is not None,
        redirect=bool(kw.get("redirect")),
        hsts=bool(kw.get("hsts")),
    )


def ip_addresses(values: tuple[str, ...] | list[str]) -> list[str]:
    """The ``--ip-address`` values (comma lists allowed), each checked to be an address.

    Raises:
        UsageError: a value is not an IPv4 or IPv6 address.
    """
    import ipaddress

    from certbot_like.errors import UsageError

    out: list[str] = []
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_address(part)
            except ValueError:
                raise UsageError(
                    f"--ip-address {part!r} is not an IP address", "Give names with -d"
                ) from None
            out.append(part)
    return out


def _run(ctx: click.Context, kw: dict[str, Any], install: bool = True) -> None:
    from certbot_like.cli.output import print_obtain_result
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.services.obtain import obtain

    if kw.get("notify"):  # before the log records the command line
        from certbot_like.services.notify import register_url_secrets

        register_url_secrets(kw["notify"])
    runtime = build_runtime(ctx, kw)
    request = build_request(ctx, kw, install=install)
    if (request.redirect or request.hsts) and not request.install:
        from certbot_like.errors import UsageError

        raise UsageError(
            "--redirect and --hsts need an installer",
            "Add --nginx, --apache or -i NAME (not with certonly)",
        )
    with runtime.locked():
        result = obtain(
            runtime.settings, request, runtime.display, runtime.hooks(request.hooks.timeout)
        )
    if kw.get("as_json"):
        print_json(result_document(result))
    else:
        print_obtain_result(runtime, result)


def result_document(result: ObtainResult) -> dict[str, Any]:
    """The JSON form of an :class:`~certbot_like.services.obtain.ObtainResult`."""
    return {
        "action": result.action,
        "lineage": result.lineage,
        "names": list(result.names),
        "unicode_names": [to_unicode(name) for name in result.names],
        "not_after": result.not_after.isoformat(),
        "key_type": result.key_type,
        "issuer": result.issuer,
        "serial": result.serial,
        "paths": {k: str(v) for k, v in result.paths.items()},
        "installed_with": result.installed_with,
    }


@click.command(
    "obtain",
    cls=CompatCommand,
    with_plugins=True,
    help=OBTAIN_HELP,
    short_help="Obtain a certificate.",
)
@common_options
@account_options
@cert_options
@json_option
@click.pass_context
def obtain_cmd(ctx: click.Context, /, **kw: Any) -> None:
    _run(ctx, kw)


@click.command(
    "certonly", cls=CompatCommand, with_plugins=True, help=OBTAIN_HELP, short_help="Same as obtain."
)
@common_options
@account_options
@cert_options
@json_option
@click.pass_context
def certonly_cmd(ctx: click.Context, /, **kw: Any) -> None:
    _run(ctx, kw, install=False)


@click.command(
    "run",
    cls=CompatCommand,
    with_plugins=True,
    help=OBTAIN_HELP,
    short_help="Same as obtain (certbot's default command).",
)
@common_options
@account_options
@cert_options
@json_option
@click.pass_context
def run_cmd(ctx: click.Context, /, **kw: Any) -> None:
    _run(ctx, kw)
