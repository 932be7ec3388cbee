"""``doctor``: what a sysadmin would otherwise find at 3 a.m., each finding with why it
matters and how to fix it.

Local checks (no network): the renewal timer or cron job and its cadence against the
shortest lifetime in use, OCSP Must-Staple requests, certificates relying on the clientAuth
usage, missing plugins and credentials files, private keys and credentials readable by
others, broken ``live/`` links, ``live/`` directories without a renewal conf. Network checks
(:mod:`certbot_like.services.doctor_net`): clock skew against each CA's ``Date`` header, CAA
records that forbid the CA, HTTP-01 names whose A/AAAA records point elsewhere.

Doctor reads the file system where certbot's layout puts things (``live/``, keys' modes):
it diagnoses that layout, so unlike the other services it looks at paths.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.errors import CertbotLikeError
from certbot_like.services.lineages import LineageInfo

WARNING, PROBLEM = "warning", "problem"
CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2"


@dataclass(frozen=True)
class Finding:
    """One thing wrong: what, why it matters, how to fix it."""

    level: str  # warning | problem
    what: str
    why: str
    fix: str
    lineage: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "lineage": self.lineage,
            "what": self.what,
            "why": self.why,
            "fix": self.fix,
        }


@dataclass
class DoctorReport:
    """Every finding, in the order found."""

    findings: list[Finding] = field(default_factory=list)

    def add(self, level: str, what: str, why: str, fix: str, lineage: str | None = None) -> None:
        self.findings.append(Finding(level, what, why, fix, lineage))

    def exit_code(self) -> int:
        """0 clean, 1 warnings only, 2 problems."""
        levels = {f.level for f in self.findings}
        return 2 if PROBLEM in levels else (1 if levels else 0)


def check_timer(
    report: DoctorReport,
    status: Any,
    shortest_lifetime: float | None,
    cron_jobs: list[str] | None = None,
) -> None:
    """No timer or cron job (and certbot's not renewing either), or one too rare.

    *status* is a :class:`certbot_like.schedule.Status`; *cron_jobs* the cron files an
    administrator wrote that run ``renew`` (their schedule is not judged).
    """
    if not status.installed:
        if status.conflicts or cron_jobs:
            return  # certbot's own timer, or a hand-written cron line, runs `renew`
        report.add(
            PROBLEM,
            "no renewal timer or cron job is installed",
            "nothing runs `renew`, so every certificate expires silently",
            "run `certbot-like schedule install`",
        )
        return
    hours = timer_interval(status)
    if hours is None or shortest_lifetime is None:
        return
    limit = shortest_lifetime / 24 / 3600  # a renewal window allows several tries
    if hours > limit:
        report.add(
            WARNING,
            f"the renewal timer runs every {hours} h, too rarely for the shortest certificate "
            f"lifetime in use ({shortest_lifetime / 86400:.1f} days)",
            "a failed run is retried only at the next one; short-lived certificates need "
            "several tries inside their renewal window",
            f"run `certbot-like schedule install --interval {_interval_for(limit)}`",
        )


def timer_interval(status: Any) -> int | None:
    """Hours between runs of the installed timer or cron job (ours), or None if unknown."""
    from certbot_like.schedule import INTERVALS, Schedule

    on_calendar = (status.systemd or {}).get("on_calendar")
    cron_times = (status.cron or {}).get("times")
    for hours in INTERVALS:
        schedule = Schedule(Path("/usr/bin/certbot-like"), hours)
        if on_calendar == schedule.on_calendar or cron_times == schedule.cron_times:
            return hours
    return None


def _interval_for(limit_hours: float) -> int:
    from certbot_like.schedule import INTERVALS

    return max([h for h in INTERVALS if h <= limit_hours] or [1])


def check_lineage(report: DoctorReport, info: LineageInfo, plugin_names: set[str]) -> None:
    """Must-Staple, clientAuth, plugins, credentials, key modes and links of one lineage."""
    name = info.name
    for problem in info.problems:
        if problem.startswith(("missing or broken link", "live links point")):
            report.add(
                PROBLEM,
                f"live/{name}: {problem}",
                "web servers read live/; renew refuses a lineage whose links are broken",
                f"restore the links to archive/{name}/ or delete the lineage and obtain it again",
                name,
            )
    params = info.params
    if params is None:
        report.add(
            PROBLEM,
            f"the lineage cannot be read: {'; '.join(info.problems)}",
            "renew skips it every run: it will expire",
            "fix the renewal conf (see the message), or delete the lineage",
            name,
        )
        return
    if params.must_staple:
        report.add(
            PROBLEM,
            "the renewal conf asks for OCSP Must-Staple",
            "Let's Encrypt and other CAs refuse Must-Staple since 2025: the next renewal fails",
            f"remove the must_staple line from {info.location}",
            name,
        )
    for role, plugin in (("authenticator", params.authenticator), ("installer", params.installer)):
        if plugin and plugin not in plugin_names:
            report.add(
                PROBLEM,
                f"the {role} plugin {plugin!r} is not installed",
                "renew cannot prove control of the names (or install the certificate)",
                f"install the plugin, or `certbot-like reconfigure --cert-name {name}` "
                "with one that is",
                name,
            )
    for key, value in params.extra.items():
        if key.endswith("credentials") and isinstance(value, str):
            _check_credentials(report, name, key, Path(value))
    _check_key_mode(report, info)
    _check_client_auth(report, info)


def _check_credentials(report: DoctorReport, name: str, key: str, path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        report.add(
            PROBLEM,
            f"{key} names {path}, which does not exist",
            "the DNS plugin cannot log in to update records: the renewal fails",
            f"restore {path} or point {key} at the right file",
            name,
        )
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        report.add(
            PROBLEM if mode & stat.S_IRWXO else WARNING,
            f"the credentials file {path} is readable by others (mode {mode & 0o777:o})",
            "it holds an API secret for your DNS: anyone who reads it can change your zone",
            f"chmod 600 {path}",
            name,
        )


def _check_key_mode(report: DoctorReport, info: LineageInfo) -> None:
    privkey = info.live.get("privkey")
    if privkey is None:
        return
    try:
        mode = os.stat(privkey).st_mode
    except OSError:
        return  # a broken link is reported already
    if mode & stat.S_IRWXO:
        report.add(
            PROBLEM,
            f"the private key {Path(privkey).resolve()} is readable by others "
            f"(mode {mode & 0o777:o})",
            "anyone on this machine can impersonate the site",
            f"chmod 600 {Path(privkey).resolve()} (and revoke the certificate if the key may "
            "have been copied)",
            info.name,
        )


def _check_client_auth(report: DoctorReport, info: LineageInfo) -> None:
    cert_path = info.live.get("cert")
    if cert_path is None:
        return
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return
    if any(u.dotted_string == CLIENT_AUTH_OID for u in usages):
        report.add(
            WARNING,
            "the certificate carries the clientAuth usage, which Let's Encrypt no longer issues "
            "(2026)",
            "if a client uses this certificate to authenticate (mTLS, XMPP or SMTP server to "
            "server), it breaks at the next renewal",
            "move those clients to a private CA or a CA that issues clientAuth; nothing to do "
            "if the certificate only serves HTTPS",
            info.name,
        )


def check_orphans(report: DoctorReport, orphans: list[str]) -> None:
    """Certificates that no renewal conf names (``Store.orphan_certificates``): never renewed."""
    for entry in orphans:
        report.add(
            WARNING,
            f"live/{entry} has no renewal conf",
            "nothing renews it: it will expire",
            f"obtain it again with --cert-name {entry}, or delete live/{entry} and "
            f"archive/{entry} if it is unused",
            entry,
        )


def shortest_lifetime(infos: list[LineageInfo]) -> float | None:
    lifetimes = [
        (i.not_after - i.not_before).total_seconds()
        for i in infos
        if i.not_after is not None and i.not_before is not None
    ]
    return min(lifetimes, default=None)


def safe(report: DoctorReport, check: str, func: Any, *args: Any) -> None:
    """Run one check; an error in it becomes a warning instead of stopping the others."""
    try:
        func(report, *args)
    except CertbotLikeError as exc:
        report.add(
            WARNING,
            f"the {check} check could not run: {exc.one_line()}",
            "doctor could not look",
            "fix the cause above and run doctor again",
        )
