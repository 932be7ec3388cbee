"""Read and write ``renewal/<name>.conf`` in certbot's configobj format.

The file holds the four live paths, the archive directory, a ``version`` and a
``[renewalparams]`` section of string values (lists as ``a, b,``; ``webroot_map`` as a
subsection). Rewrites keep the comments and unknown keys an administrator or certbot put
there, and are atomic.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError
from certbot_like.storage.atomic import write_file
from certbot_like.storage.conf_syntax import parse_plain
from certbot_like.storage.layout import KINDS, Layout
from certbot_like.storage.renewal_params import RenewalParams


@dataclass
class RenewalConf:
    """A parsed renewal conf: where its files are and its typed ``[renewalparams]``."""

    name: str
    path: Path
    archive_dir: Path
    live: dict[str, Path]
    version: str | None = None
    params: RenewalParams = field(default_factory=RenewalParams)


def _load_configobj(path: Path, data: bytes | None = None) -> Any:
    import configobj

    try:
        source: Any = io.BytesIO(data) if data is not None else str(path)
        return configobj.ConfigObj(
            source,
            encoding="utf-8",
            default_encoding="utf-8",
            file_error=True,
            interpolation=False,
            list_values=True,
        )
    except (configobj.ConfigObjError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{path} is not a valid renewal conf: {first}",
            "Fix the file by hand or restore it from a backup",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc.strerror}", "Check that the file exists and is readable"
        ) from None


def lineage_name_from_path(path: Path) -> str:
    """``renewal/example.com.conf`` -> ``example.com``."""
    return path.name[: -len(".conf")]


def read_renewal_conf(path: Path, data: bytes | None = None) -> RenewalConf:
    """Parse a renewal conf (from *data* if given, else from *path*): plain confs with
    :func:`~certbot_like.storage.conf_syntax.parse_plain`, anything else with configobj.

    Raises:
        ConfigError: unreadable, not configobj syntax, or missing one of the four paths.
    """
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"Cannot read {path}: {exc.strerror}",
                "Check that the file exists and is readable",
            ) from None
    obj: Any = parse_plain(data)
    if obj is None:  # not plain: configobj decides (and names the error)
        obj = _load_configobj(path, data)
    missing = [k for k in (*KINDS, "archive_dir") if not isinstance(obj.get(k), str)]
    if "archive_dir" in missing and all(k not in missing for k in KINDS):
        missing.remove("archive_dir")  # very old certbot confs; derive it below
    if missing:
        raise ConfigError(
            f"{path} lacks {', '.join(missing)}",
            "Restore the file from a backup or delete the lineage",
        )
    live = {kind: Path(obj[kind]) for kind in KINDS}
    archive = obj.get("archive_dir")
    archive_dir = (
        Path(archive)
        if isinstance(archive, str)
        else (live["cert"].parent.parent.parent / "archive" / lineage_name_from_path(path))
    )
    params_section = obj.get("renewalparams")
    params = RenewalParams.from_conf(
        params_section if hasattr(params_section, "items") else {}, str(path)
    )
    version = obj.get("version")
    return RenewalConf(
        name=lineage_name_from_path(path),
        path=path,
        archive_dir=archive_dir,
        live=live,
        version=version if isinstance(version, str) else None,
        params=params,
    )


def render_renewal_conf(
    layout: Layout,
    name: str,
    params: RenewalParams | Mapping[str, Any],
    version: str,
    existing: bytes | None = None,
) -> bytes:
    """The bytes of a renewal conf for lineage *name* with *params* as ``[renewalparams]``.

    With *existing* (the current file), comments and top-level keys it holds are kept, and
    ``[renewalparams]`` is replaced by *params*. ``deploy_hook`` is written as ``renew_hook``
    for certbot compatibility.

    Raises:
        ConfigError: a value cannot be written in configobj syntax, or *existing* is invalid.
    """
    import configobj

    if not isinstance(params, RenewalParams):  # a plain mapping (tests, tools)
        params = RenewalParams().merged(params)
    path = layout.renewal_conf(name)
    if existing is not None:
        conf = _load_configobj(path, existing)
    else:
        conf = configobj.ConfigObj(encoding="utf-8", default_encoding="utf-8")
    conf["version"] = version
    # An existing conf keeps its own paths (certbot honours them, and the new version was
    # saved there); a new one gets the layout's.
    if not isinstance(conf.get("archive_dir"), str):
        conf["archive_dir"] = str(layout.archive_dir(name))
    for kind in KINDS:
        if not isinstance(conf.get(kind), str):
            conf[kind] = str(layout.live_dir(name) / f"{kind}.pem")
    section: dict[str, Any] = {}
    for key, value in params.to_conf().items():
        section["renew_hook" if key == "deploy_hook" else key] = value
    conf["renewalparams"] = section
    buffer = io.BytesIO()
    try:
        conf.write(outfile=buffer)
    except configobj.ConfigObjError:
        key = _unquotable_key(section) or "a value"
        raise ConfigError(
            f"Cannot store {key} in {path}: configobj cannot quote a value that holds both "
            "' and \" inside a list, or a line break",
            "Change the value (e.g. rename the directory or use a script for the hook)",
        ) from None
    return buffer.getvalue()


def _unquotable_key(section: Mapping[str, Any]) -> str | None:
    """The first key of *section* whose value configobj refuses to write, if any."""
    import configobj

    for key, value in section.items():
        probe = configobj.ConfigObj(encoding="utf-8", default_encoding="utf-8")
        probe[key] = value
        try:
            probe.write(outfile=io.BytesIO())
        except configobj.ConfigObjError:
            return key
    return None


def write_renewal_conf(
    layout: Layout, name: str, params: RenewalParams | Mapping[str, Any], version: str
) -> Path:
    """Atomically write (or rewrite, keeping comments and the file's mode) the conf of *name*.

    Raises:
        StorageError: the file could not be written (the old one is intact).
        ConfigError: the existing file cannot be parsed, or a value cannot be written.
    """
    path = layout.renewal_conf(name)
    try:
        existing: bytes | None = path.read_bytes()
        mode = path.stat().st_mode & 0o7777
    except (FileNotFoundError, NotADirectoryError):
        existing, mode = None, 0o644
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc.strerror}", "Check that the file is readable"
        ) from None
    typed = params if isinstance(params, RenewalParams) else RenewalParams.from_conf(params)
    if typed.notify:  # notification URLs carry tokens: the conf is for root's eyes only
        mode &= 0o600
    write_file(path, render_renewal_conf(layout, name, params, version, existing), mode)
    return path
