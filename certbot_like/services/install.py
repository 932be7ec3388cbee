"""Installing certificates into servers through installer plugins, all or nothing.

deploy -> enhancements (redirect, HSTS) -> config test -> graceful reload. Any failure puts
every file the installer touched back (``restore``), reloads the server if a reload had
already been attempted, and reports one :class:`InstallerError`; the certificate itself
stays stored. Renewals only reload (the configuration already points at ``live/``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certbot_like.errors import CertbotLikeError, InstallerError, PluginError
from certbot_like.interfaces import (
    ChallengeRouting,
    DeployTarget,
    HookRunner,
    HstsEnhancement,
    Identifier,
    Installer,
    RedirectEnhancement,
    RollbackCapable,
)
from certbot_like.services.accounts import UserDisplay
from certbot_like.services.issue import make_plugin
from certbot_like.settings import PluginChoice
from certbot_like.storage.layout import Layout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Enhancements:
    """What to add besides the certificate (``--redirect``, ``--hsts``)."""

    redirect: bool = False
    hsts: bool = False


def deploy_target(name: str, names: Sequence[Identifier], live: dict[str, Path]) -> DeployTarget:
    """The :class:`DeployTarget` of a stored lineage (paths in ``live/``)."""
    return DeployTarget(
        lineage=name,
        names=tuple(names),
        cert_path=live["cert"],
        key_path=live["privkey"],
        chain_path=live["chain"],
        fullchain_path=live["fullchain"],
    )


def install(
    layout: Layout,
    choice: PluginChoice,
    target: DeployTarget,
    display: UserDisplay,
    hooks: HookRunner,
    enhancements: Enhancements = Enhancements(),
) -> None:
    """Deploy *target* with the installer *choice*; on any failure restore everything.

    Raises:
        PluginError: the installer cannot run here or lacks a requested enhancement
            (nothing was changed).
        InstallerError: deployment, the config test or the reload failed; the server's
            configuration was restored and it keeps serving what it served before.
    """
    installer: Installer = make_plugin(choice, layout, display, hooks)
    name = choice.spec.name
    if enhancements.redirect and not isinstance(installer, RedirectEnhancement):
        raise PluginError(f"The {name} installer cannot add a redirect", "Drop --redirect")
    if enhancements.hsts and not isinstance(installer, HstsEnhancement):
        raise PluginError(f"The {name} installer cannot add HSTS", "Drop --hsts")
    installer.prepare()
    reloaded = False
    try:
        installer.deploy(target)
        if enhancements.redirect:
            installer.enable_redirect(target)  # type: ignore[attr-defined]
        if enhancements.hsts:
            installer.enable_hsts(target)  # type: ignore[attr-defined]
        installer.config_test()
        reloaded = True
        installer.reload()
    except BaseException as exc:
        _undo(installer, reloaded)
        if isinstance(exc, InstallerError):
            raise
        if isinstance(exc, CertbotLikeError):
            raise InstallerError(
                f"Installing into {name} failed: {exc.message}",
                "The configuration was restored; the certificate is stored "
                "and can be installed later with `certbot-like install`",
            ) from exc
        raise


def route_challenges(
    layout: Layout,
    choice: PluginChoice,
    names: Sequence[str],
    upstream: str,
    display: UserDisplay,
    hooks: HookRunner,
) -> list[str]:
    """Route ``/.well-known/acme-challenge/`` of the sites serving *names* over plain HTTP
    to *upstream* with the installer *choice*, all or nothing like :func:`install`: config
    test and reload when something changed; nothing at all (no reload) when every site
    already routes it there.

    Returns:
        One line per site changed (empty: nothing to do).

    Raises:
        PluginError: the installer cannot run here or cannot route challenges.
        InstallerError: a site already routes the path elsewhere, nothing serves a name,
            or the config test or reload failed; the configuration was restored.
    """
    installer: Installer = make_plugin(choice, layout, display, hooks)
    name = choice.spec.name
    router: Any = installer
    if not isinstance(router, ChallengeRouting):
        raise PluginError(
            f"The {name} installer cannot route the challenge path",
            "Use --nginx or --apache, or add the route to the server yourself",
        )
    installer.prepare()
    reloaded = False
    try:
        changed = router.route_challenges(names, upstream)
        if not changed:
            return []
        installer.config_test()
        reloaded = True
        installer.reload()
    except BaseException as exc:
        _undo(installer, reloaded)
        if isinstance(exc, CertbotLikeError) and not isinstance(exc, InstallerError):
            raise InstallerError(
                f"Routing the challenge path in {name} failed: {exc.message}",
                "The configuration was restored",
            ) from exc
        raise
    return list(changed)


def _undo(installer: Installer, reloaded: bool) -> None:
    try:
        installer.restore()
        if reloaded:
            installer.reload()
    except Exception:  # the original failure is what the operator must see
        logger.exception("Restoring the installer's changes failed")


def reload_after_renewal(
    layout: Layout, choices: Sequence[PluginChoice], display: UserDisplay, hooks: HookRunner
) -> list[str]:
    """Reload each installer once so servers pick up renewed certificates.

    Returns:
        One line per installer that failed (empty when all reloaded).
    """
    problems: list[str] = []
    seen: set[str] = set()
    for choice in choices:
        if choice.spec.name in seen:
            continue
        seen.add(choice.spec.name)
        try:
            installer: Installer = make_plugin(choice, layout, display, hooks)
            installer.prepare()
            installer.config_test()
            installer.reload()
        except CertbotLikeError as exc:
            problems.append(f"reloading {choice.spec.name} failed: {exc.one_line()}")
    return problems


def rollback(
    layout: Layout,
    choice: PluginChoice,
    display: UserDisplay,
    hooks: HookRunner,
    checkpoints: int = 1,
) -> str:
    """Undo the installer's *checkpoints* most recent committed changes (fewer when fewer
    are recorded), test and reload.

    Raises:
        PluginError: the installer cannot roll back.
        InstallerError: nothing to roll back, or the restored configuration fails its test.
    """
    installer: Installer = make_plugin(choice, layout, display, hooks)
    undo: Any = installer
    if not isinstance(undo, RollbackCapable):
        raise PluginError(
            f"The {choice.spec.name} installer cannot roll back",
            "Restore its files from your own backups",
        )
    installer.prepare()
    done: list[str] = []
    for _ in range(checkpoints):
        try:
            done.append(undo.rollback_last())
        except InstallerError as exc:
            if not done:
                raise
            logger.warning("Stopped after %d rollback(s): %s", len(done), exc.one_line())
            break
    installer.config_test()
    installer.reload()
    return "; ".join(done)
