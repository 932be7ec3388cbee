"""The flags every command shares, with certbot's names, and their conversion to settings.

Each option also reads ``CERTBOT_LIKE_<NAME>`` from the environment and its certbot name
from cli.ini, so the precedence is: command line > environment > cli.ini > default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
ENV_PREFIX = "CERTBOT_LIKE_"


def opt(*decls: str, **attrs: Any) -> Callable[[F], F]:
    """``click.option`` with the ``CERTBOT_LIKE_<NAME>`` environment variable wired in."""
    name = next((d for d in decls if d.isidentifier()), None)
    if name is None:
        longs = [d.split("/")[0] for d in decls if d.startswith("--")]
        name = max(longs, key=len)[2:].replace("-", "_")
    attrs.setdefault("envvar", ENV_PREFIX + name.upper())
    attrs.setdefault("show_default", "default" in attrs and attrs["default"] not in (None, False))
    return click.option(*decls, **attrs)


def _compose(decorators: list[Callable[[F], F]]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


common_options = _compose(
    [
        opt(
            "-c",
            "--config",
            "config_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="cli.ini file to read options from [default: /etc/letsencrypt/cli.ini when it "
            "exists]. Keys are long option names without dashes, as in certbot.",
        ),
        opt(
            "--config-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("/etc/letsencrypt"),
            help="Where accounts, certificates and renewal confs live.",
        ),
        opt(
            "--work-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("/var/lib/letsencrypt"),
            help="Working files: locks, state, backups.",
        ),
        opt(
            "--logs-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("/var/log/letsencrypt"),
            help="Where the debug log is written.",
        ),
        opt(
            "--max-log-backups",
            type=click.IntRange(0, 1000),
            default=10,
            help="Rotated debug logs to keep (0 keeps none).",
        ),
        opt(
            "-n",
            "--non-interactive",
            "--noninteractive",
            "non_interactive",
            is_flag=True,
            help="Never prompt; fail with a clear message where an answer is needed.",
        ),
        opt("-q", "--quiet", is_flag=True, help="Print errors only."),
        opt(
            "-v",
            "--verbose",
            "verbosity",
            count=True,
            help="More detail on the terminal (-vv, -vvv for even more).",
        ),
        opt(
            "--server",
            metavar="URL",
            help="ACME directory URL [default: Let's Encrypt production].",
        ),
        opt(
            "--staging",
            "--test-cert",
            "staging",
            is_flag=True,
            help="Use Let's Encrypt's staging CA (certificates are not trusted).",
        ),
        opt(
            "--ca-bundle",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="PEM file of CA certificates trusted for the ACME server's HTTPS (for a CA "
            "with a private root).",
        ),
        opt(
            "--ca-allow-origin",
            multiple=True,
            metavar="ORIGIN",
            help="Let the CA's answers point at this https://host[:port] besides the "
            "--server origin (repeatable; stored for renewal). Only for a CA that documents "
            "a split API: signed requests and downloads then go there too.",
        ),
        opt(
            "--dry-run",
            is_flag=True,
            help="Test against the staging CA; nothing is written to live/, archive/ or renewal/.",
        ),
        opt(
            "--http-timeout",
            type=click.FloatRange(1, 600),
            default=30.0,
            help="Seconds to wait for one answer from the CA.",
        ),
        opt(
            "--issuance-timeout",
            type=click.FloatRange(5, 3600),
            default=180.0,
            help="Seconds to wait for validation and issuance of one order.",
        ),
        opt(
            "--no-random-sleep-on-renew",
            "no_random_sleep",
            is_flag=True,
            help="renew: start at once even without a terminal (an unattended renew "
            "otherwise waits a random 1-480 s before contacting the CA).",
        ),
        opt(
            "--no-directory-hooks",
            is_flag=True,
            help="renew: do not run the executables in renewal-hooks/{pre,deploy,post}/.",
        ),
        opt(
            "--store",
            "store_url",
            metavar="URL",
            envvar=ENV_PREFIX + "STORE",
            help="Shared certificate store of a fleet (postgresql://user@host:port/dbname); "
            "the password comes from ~/.pgpass, PGPASSFILE or PGPASSWORD, never the URL "
            "[default: files under --config-dir only].",
        ),
        opt(
            "--store-key-file",
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="PATH",
            help="Key that seals private keys before they enter --store (0600) "
            "[default: CONFIG_DIR/store.key].",
        ),
        opt(
            "--node-name", metavar="NAME", help="This node's name in --store [default: host name]."
        ),
        opt("--store-lease", type=click.FloatRange(1, 86400), default=300.0, hidden=True),
        opt(
            "--user-agent",
            metavar="TEXT",
            help="User-Agent header sent to the CA [default: certbot-like/VERSION].",
        ),
        opt(
            "--user-agent-comment",
            metavar="TEXT",
            help="Text added to the User-Agent in parentheses (e.g. who runs this client).",
        ),
        opt(
            "--force-interactive",
            is_flag=True,
            help="Prompt even when not run from a terminal (conflicts with -n).",
        ),
    ]
)

account_options = _compose(
    [
        opt(
            "-m",
            "--email",
            "email",
            multiple=True,
            metavar="ADDRESS",
            help="Contact address for the ACME account (repeat or comma-separate).",
        ),
        opt("--agree-tos", is_flag=True, help="Agree to the CA's terms of service."),
        opt(
            "--register-unsafely-without-email",
            is_flag=True,
            help="Register without an e-mail address (you will get no expiry warnings).",
        ),
        opt("--eab-kid", metavar="KID", help="External Account Binding key id from your CA."),
        opt(
            "--eab-hmac-key",
            metavar="KEY",
            help="External Account Binding HMAC key (base64url) from your CA.",
        ),
        opt(
            "--eab-hmac-alg",
            type=click.Choice(["HS256", "HS384", "HS512"]),
            default="HS256",
            help="External Account Binding MAC algorithm.",
        ),
        opt("--account", "account_id", metavar="ID", help="Account id to use when several exist."),
    ]
)

json_option = opt(
    "--json", "as_json", is_flag=True, help="Print a JSON document on stdout instead of text."
)


def cert_name_option(required: bool = False) -> Callable[[F], F]:
    return opt(
        "--cert-name",
        metavar="NAME",
        required=required,
        help="Lineage name (live/NAME, renewal/NAME.conf).",
    )


domains_option = opt(
    "-d",
    "--domains",
    "--domain",
    "domains",
    multiple=True,
    metavar="NAME",
    help="Domain name or IP address (repeat or comma-separate). The first "
    "is the default certificate name.",
)


def refuse_dry_run(kw: Mapping[str, Any], command: str) -> None:
    """Refuse ``--dry-run`` (a common flag) for *command*, which cannot rehearse.

    Raises:
        UsageError: ``--dry-run`` was given.
    """
    from certbot_like.errors import UsageError

    if kw.get("dry_run"):
        raise UsageError(f"`{command}` has no --dry-run", f"Drop --dry-run from `{command}`")


def was_set(ctx: click.Context, name: str) -> bool:
    """True when the operator gave *name* (command line, environment or cli.ini)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source not in (click.core.ParameterSource.DEFAULT,)


def stored_settings_options(func: F) -> F:
    """Flags that change how lineages renew and are stored in their renewal confs
    (shared by ``renew`` and ``reconfigure``)."""
    decorators: list[Callable[[F], F]] = [
        opt(
            "--key-type",
            type=click.Choice(["ecdsa", "rsa"]),
            help="Key type of renewed certificates (stored).",
        ),
        opt(
            "--rsa-key-size",
            type=click.Choice(["2048", "3072", "4096"]),
            help="RSA key size (stored).",
        ),
        opt(
            "--elliptic-curve",
            type=click.Choice(["secp256r1", "secp384r1"]),
            help="ECDSA curve (stored).",
        ),
        opt(
            "--reuse-key/--no-reuse-key",
            default=None,
            help="Keep (or stop keeping) the private key on renewal (stored).",
        ),
        opt(
            "--preferred-challenges",
            metavar="TYPES",
            multiple=True,
            help="Challenge types in order of preference (stored).",
        ),
        opt("--preferred-chain", metavar="ISSUER_CN", help="Preferred chain (stored)."),
        opt(
            "--pre-hook",
            metavar="CMD",
            help="Run once before the first renewal of a run (stored; '' removes it).",
        ),
        opt(
            "--post-hook",
            metavar="CMD",
            help="Run once after the renewals; gets RENEWED_DOMAINS and FAILED_DOMAINS "
            "(stored; '' removes it).",
        ),
        opt(
            "--deploy-hook",
            "--renew-hook",
            "deploy_hook",
            metavar="CMD",
            help="Run after each renewed lineage with RENEWED_LINEAGE and RENEWED_DOMAINS "
            "(stored; '' removes it).",
        ),
        opt("--run-deploy-hooks", is_flag=True, help="With --dry-run, run deploy hooks too."),
        opt(
            "--hook-timeout",
            type=click.FloatRange(1, 86400),
            default=300.0,
            help="Seconds a hook may run before it is killed.",
        ),
    ]
    return _compose(decorators)(func)
