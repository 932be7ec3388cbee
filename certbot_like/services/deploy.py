"""Deploy targets of a lineage: write them from a version, tell whether they are current,
and reload the services that read them (once per run per command)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from certbot_like.deploy.spec import DeploySettings, DeployTarget, settings_from_conf
from certbot_like.errors import CertbotLikeError, DeployError
from certbot_like.interfaces import HookRunner
from certbot_like.services.reload_queue import ReloadQueue
from certbot_like.settings import RunSettings
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.store import CertFiles

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetResult:
    """What happened to one target: ``written``, ``unchanged`` or ``failed``."""

    target: DeployTarget
    status: str
    error: str | None = None  # what went wrong (one sentence)
    hint: str | None = None  # how to fix it


@dataclass(frozen=True)
class DeployReport:
    """The targets of one lineage after a deployment."""

    lineage: str
    results: tuple[TargetResult, ...] = ()

    @property
    def changed(self) -> bool:
        return any(r.status == "written" for r in self.results)

    @property
    def errors(self) -> list[str]:
        return [r.error for r in self.results if r.error]


def settings_of(params: RenewalParams, source: str) -> DeploySettings:
    """The deploy settings stored in a lineage's parameters.

    Raises:
        ConfigError: a malformed stored value.
    """
    return settings_from_conf(
        params.deploy_to,
        owner=params.deploy_owner,
        mode=params.deploy_mode,
        reload=params.deploy_reload,
        pkcs12_password_file=params.pkcs12_password_file,
        pkcs12_legacy=params.pkcs12_legacy,
        source=source,
    )


def _expected(settings: DeploySettings, files: CertFiles) -> tuple[bytes, tuple[int, int] | None]:
    """(PKCS#12 password, owner ids) for writing; raises what makes every target fail.

    Raises:
        ConfigError, UsageError: unreadable password file, unknown owner.
    """
    from certbot_like.deploy.render import read_password
    from certbot_like.deploy.spec import resolve_owner

    password = b""
    if any(t.format == "pkcs12" for t in settings.targets):
        path = settings.pkcs12_password_file
        password = read_password(str(path) if path else None)
    owner = None
    if settings.owner:
        found = resolve_owner(settings.owner)
        owner = (found.uid, found.gid)
    return password, owner


def deploy(name: str, settings: DeploySettings, files: CertFiles, forbidden: Path) -> DeployReport:
    """Write every target of lineage *name* from *files*; a target that already holds the
    same content, owner and mode is left alone. One failing target never stops the others.
    """
    from certbot_like.deploy.render import render, up_to_date
    from certbot_like.deploy.writer import current_state, safe_path, write_target

    try:
        password, owner = _expected(settings, files)
    except CertbotLikeError as exc:
        return DeployReport(
            name,
            tuple(TargetResult(t, "failed", exc.message, exc.hint) for t in settings.targets),
        )
    results: list[TargetResult] = []
    for target in settings.targets:
        mode = settings.mode_for(target)
        try:
            path = safe_path(target.path, forbidden)
            now = current_state(path)
            same_owner = owner is None or (now.uid, now.gid) == owner
            if (
                now.data is not None
                and now.mode == mode
                and same_owner
                and up_to_date(target, now.data, files, password=password)
            ):
                results.append(TargetResult(target, "unchanged"))
                continue
            data = render(target, files, password=password, legacy=settings.pkcs12_legacy)
            write_target(path, data, mode=mode, owner=owner)
            logger.info("%s: deployed %s", name, target)
            results.append(TargetResult(target, "written"))
        except CertbotLikeError as exc:
            logger.warning("%s: %s", name, exc.one_line())
            results.append(TargetResult(target, "failed", exc.message, exc.hint))
    return DeployReport(name, tuple(results))


def status(
    settings: DeploySettings, files: CertFiles, forbidden: Path
) -> list[tuple[DeployTarget, str]]:
    """Each target with ``up to date``, ``stale``, ``missing``, ``wrong owner or mode`` or
    the reason it cannot be checked (for ``certificates``)."""
    from certbot_like.deploy.render import up_to_date
    from certbot_like.deploy.writer import current_state, safe_path

    try:
        password, owner = _expected(settings, files)
    except CertbotLikeError as exc:
        return [(t, f"unknown: {exc.message}") for t in settings.targets]
    out: list[tuple[DeployTarget, str]] = []
    for target in settings.targets:
        try:
            now = current_state(safe_path(target.path, forbidden))
        except CertbotLikeError as exc:
            out.append((target, f"unknown: {exc.message}"))
            continue
        if now.data is None:
            out.append((target, "missing"))
        elif not up_to_date(target, now.data, files, password=password):
            out.append((target, "stale"))
        elif now.mode != settings.mode_for(target) or (
            owner is not None and (now.uid, now.gid) != owner
        ):
            out.append((target, "wrong owner or mode"))
        else:
            out.append((target, "up to date"))
    return out


def lineage_targets(run: RunSettings, name: str) -> list[tuple[DeployTarget, str]]:
    """The deploy targets of lineage *name* and whether each is up to date (``certificates``);
    empty when it has none or its settings cannot be read."""
    store = run.store
    try:
        lineage = store.read_lineage(name)
        if not lineage.params.deploy_to:
            return []
        settings = settings_of(lineage.params, lineage.location)
        files = store.read_files(name)
    except CertbotLikeError as exc:
        logger.debug("%s: deploy targets not checked: %s", name, exc.one_line())
        return []
    return status(settings, files, run.layout.config_dir)


@dataclass(frozen=True)
class Redeployed:
    """What ``deploy`` did: a report per lineage, and reload failures by lineage."""

    reports: tuple[DeployReport, ...]
    reload_errors: dict[str, str] = field(default_factory=dict)

    def raise_first(self) -> None:
        """Raise the first target that failed (a failed reload was reported as a warning,
        as a failing deploy hook is).

        Raises:
            DeployError: a target failed.
        """
        for report in self.reports:
            raise_for(report)


def redeploy(run: RunSettings, names: Sequence[str], hooks: HookRunner) -> Redeployed:
    """Write the targets of lineages *names* again from their current versions (the CA is
    not contacted), then run each reload command once if a target of its lineages changed.

    Raises:
        UsageError, ConfigError: a lineage is missing or its settings are malformed.
    """
    store = run.store
    queue = ReloadQueue()
    reports: list[DeployReport] = []
    for name in names:
        lineage = store.read_lineage(name)
        settings = settings_of(lineage.params, lineage.location)
        if not settings.targets:
            continue
        facts = store.lineage_facts(name)
        report = deploy(name, settings, store.read_files(name), run.layout.config_dir)
        reports.append(report)
        if settings.reload and report.changed:
            queue.add(settings.reload, name, str(lineage.live_dir), facts.names)
    return Redeployed(tuple(reports), queue.run(hooks))


def raise_for(report: DeployReport) -> None:
    """Raise the first failure of *report*, saying how many targets failed.

    Raises:
        DeployError: some target failed.
    """
    failed = [r for r in report.results if r.error]
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise DeployError(
            f"{failed[0].error}{more}",
            f"{failed[0].hint or 'Fix the target'}; the certificate is stored, then run "
            f"`certbot-like deploy --cert-name {report.lineage}`",
        )
