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
from certbot_like.storage.layout import KINDS, Layout

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}
ConfValue = str | list[str] | dict[str, Any]


@dataclass
class RenewalConf:
    """A parsed renewal conf. ``params`` are the raw ``[renewalparams]`` values."""

    name: str
    path: Path
    archive_dir: Path
    live: dict[str, Path]
    version: str | None = None
    params: dict[str, ConfValue] = field(default_factory=dict)

    def get_str(self, key: str, default: str | None = None) -> str | None:
        value = self.params.get(key)
        if value is None or value == "None":
            return default
        if isinstance(value, list):
            return ",".join(value)
        if isinstance(value, dict):
            raise _bad_value(self, key, "a single value")
        return value

    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self.get_str(key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise _bad_value(self, key, "a whole number") from None

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.get_str(key)
        if value is None:
            return default
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise _bad_value(self, key, "True or False")

    def get_list(self, key: str) -> list[str]:
        value = self.params.get(key)
        if value is None or value == "None":
            return []
        if isinstance(value, dict):
            raise _bad_value(self, key, "a list")
        items = value if isinstance(value, list) else value.split(",")
        return [item.strip() for item in items if item.strip()]

    def get_map(self, key: str) -> dict[str, str]:
        value = self.params.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _bad_value(self, key, "a [[section]] of name = value lines")
        return {str(k): str(v) for k, v in value.items()}


def _bad_value(conf: RenewalConf, key: str, expected: str) -> ConfigError:
    return ConfigError(
        f"{conf.path}: [renewalparams] {key} must be {expected}",
        f"Fix or remove the line, or run `certbot-like reconfigure --cert-name {conf.name}`",
    )


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


def _plain(section: Any) -> dict[str, ConfValue]:
    out: dict[str, ConfValue] = {}
    for key, value in section.items():
        if hasattr(value, "items"):
            out[str(key)] = {str(k): v for k, v in value.items()}
        else:
            out[str(key)] = value
    return out


def lineage_name_from_path(path: Path) -> str:
    """``renewal/example.com.conf`` -> ``example.com``."""
    return path.name[: -len(".conf")]


def read_renewal_conf(path: Path, data: bytes | None = None) -> RenewalConf:
    """Parse a renewal conf (from *data* if given, else from *path*).

    Raises:
        ConfigError: unreadable, not configobj syntax, or missing one of the four paths.
    """
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
    params = _plain(params_section) if hasattr(params_section, "items") else {}
    if "renew_hook" in params and "deploy_hook" not in params:
        params["deploy_hook"] = params.pop("renew_hook")
    version = obj.get("version")
    return RenewalConf(
        name=lineage_name_from_path(path),
        path=path,
        archive_dir=archive_dir,
        live=live,
        version=version if isinstance(version, str) else None,
        params=params,
    )


def _conf_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return str(value)


def render_renewal_conf(
    layout: Layout,
    name: str,
    params: Mapping[str, Any],
    version: str,
    existing: bytes | None = None,
) -> bytes:
    """The bytes of a renewal conf for lineage *name* with *params* as ``[renewalparams]``.

    With *existing* (the current file), comments and top-level keys it holds are kept, and
    ``[renewalparams]`` is replaced by *params* (keys not in *params* are dropped, as certbot
    does). ``deploy_hook`` is written as ``renew_hook`` for certbot compatibility.
    """
    import configobj

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
    for key, value in params.items():
        if value is None:
            continue
        out_key = "renew_hook" if key == "deploy_hook" else key
        section[out_key] = _conf_value(value)
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


def write_renewal_conf(layout: Layout, name: str, params: Mapping[str, Any], version: str) -> Path:
    """Atomically write (or rewrite, keeping comments) the renewal conf of *name*.

    Raises:
        StorageError: the file could not be written (the old one is intact).
        ConfigError: the existing file cannot be parsed.
    """
    path = layout.renewal_conf(name)
    existing = path.read_bytes() if path.exists() else None
    write_file(path, render_renewal_conf(layout, name, params, version, existing), 0o644)
    return path


def update_param(path: Path, key: str, value: str) -> None:
    """Set one ``[renewalparams]`` *key* to *value* in the conf at *path*, atomically.

    Everything else (comments, the live paths, other keys, subsections) is kept; the file
    keeps its permission bits. Used when a value changes outside a renewal (the account id
    after a key rollover).

    Raises:
        ConfigError: the file is missing, unreadable or not a valid renewal conf.
        StorageError: the new file could not be written (the old one is intact).
    """
    import configobj

    try:
        data = path.read_bytes()
        mode = path.stat().st_mode & 0o7777
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc.strerror}", "Check that the file exists and is readable"
        ) from None
    read_renewal_conf(path, data)  # the same checks as every reader
    conf = _load_configobj(path, data)
    section = conf.get("renewalparams")
    if not hasattr(section, "items"):
        conf["renewalparams"] = {}
        section = conf["renewalparams"]
    section[key] = value
    buffer = io.BytesIO()
    try:
        conf.write(outfile=buffer)
    except configobj.ConfigObjError:
        raise ConfigError(
            f"Cannot store {key} in {path}: configobj cannot quote the value",
            "Choose a value without both kinds of quotes or line breaks",
        ) from None
    write_file(path, buffer.getvalue(), mode)
