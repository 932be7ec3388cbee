"""Every option of ``certbot --help all`` (certbot 5.8) and what certbot-like does with it.

certbot accepts each of its options with each subcommand, and scripts pass one set of flags
to every call. So every command here accepts every certbot option: the commands declare the
ones they honour; :func:`compat_params` adds the others to each command as hidden options
that are *accepted and ignored* (a debug-log line says so) or *refused* with one line saying
why honouring them would be wrong. A command line without a cli.ini declares only the hidden
options it spells (:func:`option_words`). ``docs/certbot-flags.md`` is generated from :data:`FLAGS`
(``make docs``); ``tests/data/certbot-5.8-flags.txt`` is certbot's own list, and a test
checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import click

HONOURED = "honoured"
IGNORED = "accepted, ignored"
REFUSED = "refused"
NOTES_KEY = "certbot_like.ignored_flags"  # ctx.meta: the notes for the debug log
COMPAT_PREFIX = "certbot_compat_"  # the names of the hidden options compat_params adds


class CertbotFlag(NamedTuple):
    """One certbot option: its spellings, whether it takes a value, and what we do."""

    opts: tuple[str, ...]
    takes_value: bool
    status: str
    note: str
    hint: str = ""  # for a refused flag: what to do instead

    @property
    def name(self) -> str:
        """The first long spelling (``--domains`` for ``-d --domains --domain``)."""
        return next(o for o in self.opts if o.startswith("--"))


def _f(opts: str, kind: str, status: str, note: str, hint: str = "") -> CertbotFlag:
    return CertbotFlag(tuple(opts.split()), kind == "value", status, note, hint)


H, IGN, R = HONOURED, IGNORED, REFUSED
V, B = "value", "flag"

FLAGS: tuple[CertbotFlag, ...] = (
    _f("-h --help", B, H, "Help for the command."),
    _f("-c --config", V, H, "cli.ini to read; keys are certbot's long option names."),
    _f("-v --verbose", B, H, "More detail on the terminal."),
    _f("--verbose-level", V, IGN, "A developer's cli.ini setting; use -v."),
    _f("-t --text", B, IGN, "Output is always text (or --json)."),
    _f("--max-log-backups", V, H, "Rotated debug logs to keep."),
    _f("--preconfigured-renewal", B, IGN, "Used by certbot's OS packages; no effect here."),
    _f("-n --non-interactive --noninteractive", B, H, "Never prompt."),
    _f("--force-interactive", B, H, "Prompt even without a terminal (conflicts with -n)."),
    _f("-d --domains --domain", V, H, "Names to certify; `certificates -d` filters."),
    _f("--ip-address", V, H, "IP address identifiers (RFC 8738), as certbot 5.3+."),
    _f("--eab-kid", V, H, "External Account Binding key id."),
    _f("--eab-hmac-key", V, H, "External Account Binding key (never logged)."),
    _f("--eab-hmac-alg", V, H, "External Account Binding MAC algorithm."),
    _f("--cert-name", V, H, "The lineage to act on."),
    _f("--dry-run", B, H, "Rehearse against the staging CA; nothing is stored."),
    _f("--run-deploy-hooks", B, H, "With --dry-run, run deploy hooks too (renew, reconfigure)."),
    _f("--register-unsafely-without-email", B, H, "Register without a contact address."),
    _f("-m --email", V, H, "Account contact address."),
    _f("--eff-email", B, IGN, "certbot-like never shares the address with the EFF."),
    _f("--no-eff-email", B, IGN, "certbot-like never shares the address with the EFF."),
    _f(
        "--keep-until-expiring --keep --reinstall",
        B,
        IGN,
        "Already the behaviour: a certificate that is not due is kept.",
    ),
    _f("--expand", B, H, "Add names to the certificate that covers some of them."),
    _f("--version", B, H, "Print the version and exit, with any command."),
    _f("--force-renewal --renew-by-default", B, H, "Renew even when not due."),
    _f(
        "--renew-with-new-domains",
        B,
        IGN,
        "Already the behaviour: --cert-name with other -d names replaces the names.",
    ),
    _f("--reuse-key", B, H, "Keep the private key on renewal (stored)."),
    _f("--no-reuse-key", B, H, "Stop keeping the private key (stored)."),
    _f("--new-key", B, H, "A new key this time, even with --reuse-key."),
    _f(
        "--allow-subset-of-names",
        B,
        H,
        "Names that fail validation are dropped and the order retried (stored for renew).",
    ),
    _f("--agree-tos", B, H, "Agree to the CA's terms of service."),
    _f("--account", V, H, "Account id to use."),
    _f("--duplicate", B, H, "A new lineage (NAME-0001) even when one has the same names."),
    _f("-q --quiet", B, H, "Print errors only."),
    _f("--test-cert --staging", B, H, "Let's Encrypt's staging CA."),
    _f("--debug", B, IGN, "Tracebacks always go to the debug log (--logs-dir)."),
    _f(
        "--debug-challenges",
        B,
        H,
        "Show the challenges and wait for Enter before the CA validates (obtain).",
    ),
    _f(
        "--no-verify-ssl",
        B,
        R,
        "certbot-like always verifies the CA's certificate",
        "Pass --ca-bundle FILE with the CA's root instead",
    ),
    _f("--http-01-port", V, H, "Port the standalone HTTP-01 server listens on."),
    _f("--http-01-address", V, H, "Address the standalone HTTP-01 server listens on."),
    _f("--https-port", V, H, "HTTPS port for the installers."),
    _f(
        "--break-my-certs",
        B,
        IGN,
        "certbot-like does not refuse to replace a trusted certificate with a staging one.",
    ),
    _f("--rsa-key-size", V, H, "RSA key size."),
    _f("--key-type", V, H, "Key type (ecdsa, rsa)."),
    _f("--elliptic-curve", V, H, "ECDSA curve."),
    _f(
        "--must-staple",
        B,
        R,
        "OCSP Must-Staple: CAs refuse it since they switched OCSP off in 2025",
        "Drop the flag",
    ),
    _f("--redirect", B, H, "Installers: redirect HTTP to HTTPS."),
    _f("--no-redirect", B, H, "Installers: no redirect."),
    _f("--hsts", B, H, "Installers: send Strict-Transport-Security."),
    _f("--no-hsts", B, H, "Installers: no HSTS header."),
    _f("--uir", B, IGN, "Upgrade-Insecure-Requests is not added by the installers."),
    _f("--no-uir", B, IGN, "The installers never add Upgrade-Insecure-Requests."),
    _f("--staple-ocsp", B, IGN, "CAs switched OCSP off in 2025: nothing to staple."),
    _f("--no-staple-ocsp", B, IGN, "The installers never turn on OCSP stapling."),
    _f(
        "--strict-permissions",
        B,
        IGN,
        "Private keys are always written 0600; no owner check is made.",
    ),
    _f("--required-profile", V, H, "ACME profile the CA must offer."),
    _f("--preferred-profile", V, H, "ACME profile to use when offered."),
    _f("--preferred-chain", V, H, "Chain whose root has this issuer name."),
    _f("--preferred-challenges", V, H, "Challenge types in order of preference."),
    _f("--issuance-timeout", V, H, "Seconds to wait for one order."),
    _f("--pre-hook", V, H, "Command before the challenges."),
    _f("--post-hook", V, H, "Command after the attempt."),
    _f("--renew-hook", V, H, "Old name of --deploy-hook."),
    _f("--no-random-sleep-on-renew", B, H, "renew: no random wait without a terminal."),
    _f("--deploy-hook", V, H, "Command after each stored certificate."),
    _f("--disable-hook-validation", B, IGN, "Hooks are never validated ahead of time."),
    _f("--no-directory-hooks", B, H, "Skip renewal-hooks/{pre,deploy,post}/."),
    _f(
        "--disable-renew-updates",
        B,
        IGN,
        "renew only reloads the servers; it never rewrites their TLS settings.",
    ),
    _f("--no-autorenew", B, H, "autorenew = False in the renewal conf; renew skips it."),
    _f("--os-packages-only", B, IGN, "certbot-auto's; no effect."),
    _f("--no-self-upgrade", B, IGN, "certbot-auto's; no effect."),
    _f("--no-bootstrap", B, IGN, "certbot-auto's; no effect."),
    _f("--no-permissions-check", B, IGN, "certbot-auto's; no effect."),
    _f(
        "--auto-hsts",
        B,
        R,
        "the HSTS max-age raised over renewals is not done here",
        "Use --hsts",
    ),
    _f("--user-agent", V, H, "The User-Agent sent to the CA."),
    _f("--user-agent-comment", V, H, "Appended to the User-Agent in parentheses."),
    _f("--csr", V, H, "Certificate signing request to use."),
    _f("--reason", V, H, "revoke: the revocation reason."),
    _f("--delete-after-revoke", B, H, "revoke: delete the lineage afterwards."),
    _f("--no-delete-after-revoke", B, H, "revoke: keep the lineage (listed as REVOKED)."),
    _f("--checkpoints", V, H, "rollback: how many installer changes to undo."),
    _f("--init", B, IGN, "`plugins` always checks whether each plugin can run."),
    _f("--prepare", B, IGN, "`plugins` always checks whether each plugin can run."),
    _f("--authenticators", B, H, "plugins: authenticators only."),
    _f("--installers", B, H, "plugins: installers only."),
    _f("--cert-path", V, H, "--csr output; revoke: the certificate."),
    _f("--key-path", V, H, "revoke: sign with the certificate's key."),
    _f("--fullchain-path", V, H, "--csr output."),
    _f("--chain-path", V, H, "--csr output."),
    _f("--config-dir", V, H, "Configuration directory."),
    _f("--work-dir", V, H, "Working directory."),
    _f("--logs-dir", V, H, "Log directory."),
    _f("--server", V, H, "ACME directory URL."),
    _f("--configurator", V, H, "Authenticator and installer at once (certbot's old name)."),
    _f("-a --authenticator", V, H, "Authenticator plugin."),
    _f("-i --installer", V, H, "Installer plugin."),
    _f("--apache", B, H, "The apache plugin."),
    _f("--nginx", B, H, "The nginx plugin."),
    _f("--standalone", B, H, "The standalone plugin."),
    _f("--manual", B, H, "The manual plugin."),
    _f("--webroot", B, H, "The webroot plugin."),
    *(
        _f(f"--dns-{p}", B, H, f"certbot's dns-{p} plugin, through lexicon (docs/dns.md).")
        for p in (
            "cloudflare",
            "digitalocean",
            "dnsimple",
            "dnsmadeeasy",
            "gehirn",
            "google",
            "linode",
            "luadns",
            "nsone",
            "ovh",
            "route53",
            "sakuracloud",
        )
    ),
    _f("--dns-rfc2136", B, H, "The rfc2136 DNS plugin."),
    _f("--manual-auth-hook", V, H, "manual: the authentication hook."),
    _f("--manual-cleanup-hook", V, H, "manual: the clean-up hook."),
    _f("--webroot-path -w", V, H, "webroot: the document root."),
    _f("--webroot-map", V, H, "webroot: JSON map of names to roots."),
)

# Accepted by older certbots (or certbot-like before) but not by 5.8; still accepted here so
# old scripts keep working.
LEGACY: tuple[CertbotFlag, ...] = (
    _f("--agree-dev-preview", B, IGN, "A flag of certbot's beta; no effect."),
    _f("--enable-hook-validation", B, IGN, "Hooks are never validated ahead of time."),
    _f("--random-sleep-on-renew", B, IGN, "Already the behaviour of an unattended renew."),
    _f("--quiet-hooks", B, IGN, "No effect."),
)


def refused_flag(opts: Iterable[str]) -> CertbotFlag | None:
    """The refused certbot flag one of whose spellings is in *opts*, if any."""
    given = set(opts)
    return next((f for f in FLAGS if f.status == REFUSED and given.intersection(f.opts)), None)


def option_words(args: Iterable[str]) -> set[str]:
    """Every option spelling *args* could hold: ``--name`` (before any ``=``) and, for each
    ``-xyz`` word, ``-x``, ``-y`` and ``-z``. A value that looks like an option adds a
    spelling too, which only means one more hidden option is declared."""
    words: set[str] = set()
    for arg in args:
        if arg.startswith("--"):
            words.add(arg.split("=", 1)[0])
        elif arg.startswith("-") and len(arg) > 1:
            words.update("-" + char for char in arg[1:])
    return words


def compat_params(
    declared: Iterable[str],
    wanted: set[str] | None = None,
    made: dict[str, click.Parameter] | None = None,
) -> list[click.Parameter]:
    """Hidden options for every certbot option none of whose spellings is in *declared*.

    With *wanted* (:func:`option_words` of the command line), only the options it spells:
    building a click option for each of certbot's flags costs more than the rest of parsing
    a command line. *made* keeps the options built, by flag name, for the next call.
    """
    have = set(declared)
    params: list[click.Parameter] = []
    for flag in (*FLAGS, *LEGACY):
        if have.intersection(flag.opts):
            continue
        if wanted is not None and wanted.isdisjoint(flag.opts):
            continue
        param = made.get(flag.name) if made is not None else None
        if param is None:
            param = _compat_option(flag)
            if made is not None:
                made[flag.name] = param
        params.append(param)
    return params


def _compat_option(flag: CertbotFlag) -> click.Option:
    dest = COMPAT_PREFIX + flag.name[2:].replace("-", "_")
    if flag.name == "--version":
        dest = "version"  # honoured by every command: not a compat option
    attrs: dict[str, Any] = {
        "hidden": True,
        "expose_value": False,
        "callback": _callback(flag),
        "is_eager": flag.name == "--version",
    }
    if flag.takes_value:
        attrs["multiple"] = True
    else:
        attrs["is_flag"] = True
    return click.Option([*flag.opts, dest], **attrs)


def _callback(flag: CertbotFlag) -> Any:
    def note(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if not value or ctx.resilient_parsing:
            return value
        if flag.status == REFUSED:
            from certbot_like.errors import UsageError

            raise UsageError(f"{flag.name} is not supported: {flag.note}", flag.hint)
        if flag.name == "--version":
            from certbot_like import __version__

            click.echo(f"certbot-like {__version__}")
            ctx.exit(0)
        command = ctx.info_name or "this command"
        reason = flag.note if flag.status == IGNORED else f"it has no effect on `{command}`"
        ctx.meta.setdefault(NOTES_KEY, []).append(f"{flag.name} accepted and ignored: {reason}")
        return value

    return note


def render_markdown(honoured_by: dict[str, list[str]], commands: list[str]) -> str:
    """``docs/certbot-flags.md``: each flag, its status, the commands honouring it, a note.

    *honoured_by* maps a flag's name to the commands (of *commands*) that declare it.
    """
    lines = [
        "# certbot's flags in certbot-like",
        "",
        "Generated from `certbot_like/cli/certbot_flags.py` by `make docs`; do not edit by",
        "hand. Every option of `certbot --help all` (certbot 5.8, listed in",
        "`tests/data/certbot-5.8-flags.txt`) is accepted by every certbot-like command, as",
        "certbot accepts it with every subcommand. *honoured*: the commands listed act on it,",
        "the others accept it and write a debug-log line saying it changed nothing there;",
        "*accepted, ignored*: no command acts on it, a debug-log line says why; *refused*:",
        "the command stops with one line saying why (exit code 2; in cli.ini exit code 3).",
        "",
        "| flag | status | honoured by | note |",
        "|---|---|---|---|",
    ]
    for flag in FLAGS:
        spellings = ", ".join(f"`{o}`" for o in flag.opts)
        by = ", ".join(honoured_by.get(flag.name, [])) if flag.status == HONOURED else ""
        if set(honoured_by.get(flag.name, [])) == set(commands):
            by = "every command"
        note = flag.note if flag.status != REFUSED else f"{flag.note[0].upper()}{flag.note[1:]}."
        if flag.hint:
            note += f" {flag.hint}."
        lines.append(f"| {spellings} | {flag.status} | {by} | {note} |")
    return "\n".join(lines) + "\n"
