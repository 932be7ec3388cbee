"""The manifest's helpers: file digests, the writer's liveness, private directories and the
reading of manifests written by earlier versions of the nginx and Apache plugins."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT_VERSION = 2


def digest(path: str) -> str | None:
    """What *path* is now: ``link:<target>``, ``sha256:<hex>``, ``None`` when missing or
    ``unreadable:<errno>``."""
    if os.path.islink(path):
        return "link:" + os.readlink(path)
    try:
        with open(path, "rb") as handle:
            return "sha256:" + hashlib.sha256(handle.read()).hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # a directory, no permission: never equal to a recorded digest
        return f"unreadable:{exc.errno}"


def process_token(pid: int) -> str | None:
    """``pid:start time`` of a live process (a reused pid is not taken for the writer)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            start = handle.read().rsplit(")", 1)[1].split()[19]
        return f"{pid}:{start}"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except PermissionError:
            pass  # alive, owned by another user
        except OSError:
            return None
        return f"{pid}:?"


def writer_alive(manifest: dict[str, Any]) -> bool:
    """Whether the process that wrote *manifest* still runs: its pid is alive and, when
    recorded, its ``pid:start time`` is still that of the process with this pid."""
    token = manifest.get("process")
    pid: object = manifest.get("pid")
    if pid is None and isinstance(token, str):
        pid = token.split(":", 1)[0]
    try:
        number = int(pid) if isinstance(pid, int | str) else 0
    except ValueError:
        return False
    current = process_token(number) if number > 0 else None
    return current is not None and (not token or token == current)


def private_dirs(path: Path, base: Path) -> None:
    """Create *path* and make it and its parents up to *base* readable by the owner only
    (the copies are configuration files, which may hold secrets).

    Raises:
        OSError: a directory cannot be created or its mode set.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for directory in (path, *path.parents):
        if not directory.is_relative_to(base):
            break
        os.chmod(directory, 0o700)


def upgrade(manifest: dict[str, Any]) -> dict[str, Any]:
    """*manifest* in the current format (version 1 manifests of the Apache and nginx
    plugins are converted; newer ones are returned as they are)."""
    if int(manifest.get("version", 1)) >= FORMAT_VERSION:
        return manifest
    out = dict(manifest, version=FORMAT_VERSION)
    if isinstance(manifest.get("created"), list):  # the Apache plugin's layout
        after: dict[str, str | None] | None = manifest.get("after")
        files: list[dict[str, Any]] = [
            {"path": e["path"], "existed": True, "backup": e["copy"], "before": None}
            | {key: e[key] for key in ("mode", "uid", "gid")}
            for e in manifest.get("files", [])
        ]
        files += [
            {"path": e["path"], "existed": False, "type": e.get("type", "file")}
            | {"target": e.get("target"), "before": None}
            for e in manifest["created"]
        ]
        if after is not None:
            for entry in files:
                entry["after"] = after.get(entry["path"])
        out.pop("after", None)
        out["files"] = files
        if out.get("state") == "in-progress":
            out["state"] = "open"
        return out
    out["created_at"] = str(manifest.get("created", ""))  # the nginx plugin's layout
    out["files"] = [dict(entry) for entry in manifest.get("files", [])]
    for entry in out["files"]:
        for key in ("before", "after"):
            value = entry.get(key)
            if isinstance(value, str) and ":" not in value:
                entry[key] = "sha256:" + value
    return out
