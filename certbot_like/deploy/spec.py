"""What to deploy where: ``--deploy-to FORMAT:PATH``, ``--deploy-owner``, ``--deploy-mode``,
``--deploy-reload`` and the PKCS#12 password, as given on the command line and as stored in
a renewal conf (``deploy_to``, ``deploy_owner``, ``deploy_mode``, ``deploy_reload``,
``pkcs12_password_file``, ``pkcs12_legacy``; certbot ignores these keys)."""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from certbot_like.deploy.settings import KEY_FORMATS, KEY_MODE, PUBLIC_MODE, DeploySettings
from certbot_like.errors import ConfigError, UsageError

FORMATS = ("fullchain", "cert", "chain", "key", "combined", "pkcs12", "der")

__all__ = [
    "FORMATS",
    "KEY_FORMATS",
    "KEY_MODE",
    "PUBLIC_MODE",
    "DeploySettings",
    "DeployTarget",
    "Owner",
    "parse_mode",
    "parse_target",
    "resolve_owner",
    "settings_from_conf",
    "settings_from_flags",
]
_FIX = "Write it as FORMAT:PATH, FORMAT one of " + ", ".join(FORMATS)


@dataclass(frozen=True)
class DeployTarget:
    """One file to keep up to date: its format and absolute path."""

    format: str
    path: Path

    @property
    def holds_key(self) -> bool:
        return self.format in KEY_FORMATS

    def __str__(self) -> str:
        return f"{self.format}:{self.path}"


@dataclass(frozen=True)
class Owner:
    """``USER[:GROUP]`` resolved to ids (the text kept for the renewal conf)."""

    text: str
    uid: int
    gid: int


def parse_target(text: str) -> DeployTarget:
    """``FORMAT:PATH`` -> :class:`DeployTarget` (the path made absolute).

    Raises:
        UsageError: unknown format, no path, or a path with a NUL byte.
    """
    fmt, sep, path = text.strip().partition(":")
    fmt = fmt.strip().lower()
    if not sep or fmt not in FORMATS:
        raise UsageError(f"Bad deploy target {text[:120]!r}", _FIX)
    if not path.strip() or "\0" in path:
        raise UsageError(f"Deploy target {text[:120]!r} has no path", _FIX)
    return DeployTarget(fmt, Path(os.path.abspath(os.path.expanduser(path.strip()))))


def parse_mode(text: str) -> int:
    """An octal mode such as ``0640``; no setuid/setgid/sticky, never writable by others.

    Raises:
        UsageError: not octal, or a mode that would let others change the file.
    """
    try:
        mode = int(text.strip(), 8)
    except ValueError:
        raise UsageError(
            f"--deploy-mode {text[:20]!r} is not an octal mode", "Use e.g. 0640"
        ) from None
    if mode < 0 or mode > 0o777:
        raise UsageError(f"--deploy-mode {text[:20]!r} is out of range", "Use e.g. 0640")
    if mode & 0o022:
        raise UsageError(
            f"--deploy-mode {text.strip()} lets other users change the file",
            "Drop the group and other write bits, e.g. 0640",
        )
    return mode


def resolve_owner(text: str) -> Owner:
    """``USER[:GROUP]`` (names or numeric ids) -> :class:`Owner`; the group defaults to the
    user's primary group.

    Raises:
        UsageError: no such user or group.
    """
    user, _, group = text.strip().partition(":")
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, ValueError):
        raise UsageError(
            f"No user {user[:64]!r} for --deploy-owner", "Create it or fix the name"
        ) from None
    gid = entry.pw_gid
    if group:
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise UsageError(
                f"No group {group[:64]!r} for --deploy-owner", "Create it or fix the name"
            ) from None
    return Owner(text.strip(), entry.pw_uid, gid)


def settings_from_flags(
    targets: Sequence[str],
    *,
    owner: str | None = None,
    mode: str | None = None,
    reload: str | None = None,
    pkcs12_password_file: Path | None = None,
    pkcs12_legacy: bool = False,
) -> DeploySettings:
    """The deploy settings given on a command line, checked.

    Raises:
        UsageError: a bad target, mode or owner, the same path twice, or a ``pkcs12``
            target without ``--pkcs12-password-file``.
    """
    parsed = tuple(parse_target(t) for t in targets)
    paths = [t.path for t in parsed]
    twice = sorted({str(p) for p in paths if paths.count(p) > 1})
    if twice:
        raise UsageError(f"Deploy target {twice[0]} is given twice", "Give each path once")
    if owner:
        resolve_owner(owner)
    if any(t.format == "pkcs12" for t in parsed) and pkcs12_password_file is None:
        raise UsageError(
            "A pkcs12 deploy target needs a password",
            "Pass --pkcs12-password-file FILE (one line, readable by root only)",
        )
    return DeploySettings(
        targets=parsed,
        owner=owner.strip() if owner else None,
        mode=parse_mode(mode) if mode else None,
        reload=reload or None,
        pkcs12_password_file=Path(os.path.abspath(pkcs12_password_file))
        if pkcs12_password_file
        else None,
        pkcs12_legacy=pkcs12_legacy,
    )


def settings_from_conf(
    targets: Sequence[str],
    *,
    owner: str | None,
    mode: str | None,
    reload: str | None,
    pkcs12_password_file: str | None,
    pkcs12_legacy: bool | None,
    source: str,
) -> DeploySettings:
    """The deploy settings stored in a renewal conf.

    Raises:
        ConfigError: a malformed value (names *source*).
    """
    try:
        return settings_from_flags(
            targets,
            owner=owner,
            mode=mode,
            reload=reload,
            pkcs12_password_file=Path(pkcs12_password_file) if pkcs12_password_file else None,
            pkcs12_legacy=bool(pkcs12_legacy),
        )
    except UsageError as exc:
        raise ConfigError(
            f"{source}: {exc.message}",
            "Fix it with `certbot-like reconfigure --cert-name NAME --deploy-to ...`",
        ) from None
