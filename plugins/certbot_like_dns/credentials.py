"""Credentials INI files in certbot's format (``dns_<plugin>_<key> = value``).

certbot reads them with configobj; so do we (without interpolation, so ``%`` and ``$`` in a
secret are kept as written). A file readable or writable by group or others is used, with a
warning, as certbot does. Every secret value read is registered with the log scrubber.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError

logger = logging.getLogger(__name__)


def permission_warning(path: Path) -> str | None:
    """A one-line warning when *path* is accessible to group or others, else ``None``."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077:
        return (
            f"Unsafe permissions on credentials file {path}: mode {mode:04o} lets group or "
            f"others read it; run `chmod 600 {path}`"
        )
    return None


@dataclass(frozen=True)
class Credentials:
    """The keys of one credentials file; ``sections`` holds ``[name]`` subsections."""

    path: Path
    values: Mapping[str, str]
    sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of *key* (stripped), or *default* when missing or empty."""
        value = self.values.get(key, "").strip()
        return value or default

    def require(self, key: str, what: str) -> str:
        """The value of *key*.

        Raises:
            ConfigError: the key is missing or empty (the message names it and the file).
        """
        value = self.get(key)
        if value is None:
            raise ConfigError(
                f"{self.path} has no {key} ({what})",
                f"Add a line `{key} = ...` to it (see docs/dns.md)",
            )
        return value


def _text(value: Any, key: str, path: Path) -> str:
    if isinstance(value, list):
        raise ConfigError(
            f"{path}: the value of {key} contains a comma",
            'Put the value in double quotes: key = "a,b"',
        )
    return str(value)


def read_credentials(
    path: str | os.PathLike[str],
    *,
    flag: str,
    secret_keys: Iterable[str] = (),
    register_secret: Callable[[str], None] = lambda value: None,
    warn: Callable[[str], None] | None = None,
) -> Credentials:
    """Read the INI at *path*; warn (through *warn*) when others may read it.

    Values of *secret_keys* (top level or in any section) are passed to *register_secret*.

    Raises:
        ConfigError: the file is missing, unreadable or not a valid INI file.
    """
    from configobj import ConfigObj, ConfigObjError

    where = Path(path)
    hint = f"Give {flag} the path of an INI file (see docs/dns.md)"
    try:
        with where.open("rb") as stream:
            raw = stream.read()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the credentials file {where}: {exc.strerror or exc}", hint
        ) from None
    message = permission_warning(where)
    if message:
        logger.warning("%s", message)
        if warn is not None:
            warn("Warning: " + message)
    try:
        text = raw.decode("utf-8")
        conf = ConfigObj(text.splitlines(), interpolation=False, encoding="utf-8")
    except (ConfigObjError, UnicodeDecodeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"Cannot parse the credentials file {where}: {detail}", hint) from None
    values: dict[str, str] = {}
    sections: dict[str, dict[str, str]] = {}
    for key in conf.scalars:
        values[str(key)] = _text(conf[key], key, where)
    for name in conf.sections:
        section = conf[name]
        sections[str(name)] = {
            str(k): _text(section[k], f"[{name}] {k}", where) for k in section.scalars
        }
    secrets = set(secret_keys)
    for key, value in values.items():
        if key in secrets:
            register_secret(value.strip())
    for section_values in sections.values():
        for key, value in section_values.items():
            if key in secrets:
                register_secret(value.strip())
    return Credentials(where, values, sections)
