"""Asking Apache itself: configuration test, dumps and graceful restarts through ``--apache-ctl``.

``<ctl> -t -D DUMP_INCLUDES -D DUMP_VHOSTS -D DUMP_RUN_CFG -D DUMP_MODULES`` prints, in one
run of Apache's own parser, the files it includes, the VirtualHosts it built (with
``file:line``), its run configuration (``PidFile``, ``ServerRoot``) and its loaded modules;
:func:`parse_dump` reads that text (pure, unit-tested). A graceful restart (``-k
graceful``) returns before Apache has re-read its configuration, so :meth:`ApacheCtl.graceful`
then polls until a new generation of children exists (the parent forks them only after
reading the new configuration).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from certbot_like.errors import InstallerError, PluginError

logger = logging.getLogger(__name__)

DUMP_ARGS: tuple[str, ...] = (
    *("-t", "-D", "DUMP_INCLUDES", "-D", "DUMP_VHOSTS"),
    *("-D", "DUMP_RUN_CFG", "-D", "DUMP_MODULES"),
)
COMMAND_TIMEOUT = 60.0
GENERATION_TIMEOUT = 15.0
GONE_AFTER = 1.0
_POLL = 0.02

_VHOST_LINE = re.compile(
    r"^\s*(?:port \S+ namevhost |default server |(?P<addr>\S+)\s+)"
    r"(?P<name>\S+) \((?P<file>.+):(?P<line>\d+)\)\s*$"
)
_ALIAS_LINE = re.compile(r"^\s+(?:wild )?alias (?P<name>\S+)\s*$")
_INCLUDE_LINE = re.compile(r"^\s+\((?:\*|\d+)\)\s+(?P<file>\S.*?)\s*$")
_MODULE_LINE = re.compile(r"^\s+(?P<module>\w+) \((?:static|shared)\)\s*$")
_RUN_CFG = re.compile(r'^(?P<key>ServerRoot|PidFile): "(?P<value>.*)"\s*$')


@dataclass
class DumpVhost:
    """One VirtualHost as Apache reports it (``-S``): its names and where it starts."""

    file: str
    line: int
    names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ApacheDump:
    """What Apache's own parser reports about the configuration."""

    includes: tuple[str, ...] = ()
    vhosts: tuple[DumpVhost, ...] = ()
    modules: frozenset[str] = frozenset()
    server_root: str | None = None
    pid_file: str | None = None

    def vhost_at(self, file: str, line: int) -> DumpVhost | None:
        """The VirtualHost Apache built from *file* (a real path) at *line*, if any."""
        for vhost in self.vhosts:
            if vhost.file == file and vhost.line == line:
                return vhost
        return None


def parse_dump(text: str) -> ApacheDump:
    """Read the output of ``-t -D DUMP_INCLUDES -D DUMP_VHOSTS -D DUMP_RUN_CFG -D
    DUMP_MODULES``; file names are made real paths (``sites-enabled`` links resolved)."""
    includes: list[str] = []
    vhosts: dict[tuple[str, int], DumpVhost] = {}
    modules: set[str] = set()
    run_cfg: dict[str, str] = {}
    section = ""
    current: DumpVhost | None = None
    for line in text.splitlines():
        if line.startswith("Included configuration files:"):
            section = "includes"
            continue
        if line.startswith("VirtualHost configuration:"):
            section = "vhosts"
            continue
        if line.startswith("Loaded Modules:"):
            section = "modules"
            continue
        run = _RUN_CFG.match(line)
        if run:
            run_cfg[run["key"]] = run["value"]
            section = ""
            continue
        if section == "includes" and (match := _INCLUDE_LINE.match(line)):
            includes.append(os.path.realpath(match["file"]))
        elif section == "modules" and (match := _MODULE_LINE.match(line)):
            modules.add(match["module"])
        elif section == "vhosts":
            current = _vhost_line(line, vhosts, current)
    return ApacheDump(
        includes=tuple(dict.fromkeys(includes)),
        vhosts=tuple(vhosts.values()),
        modules=frozenset(modules),
        server_root=run_cfg.get("ServerRoot"),
        pid_file=run_cfg.get("PidFile"),
    )


def _vhost_line(
    line: str, vhosts: dict[tuple[str, int], DumpVhost], current: DumpVhost | None
) -> DumpVhost | None:
    alias = _ALIAS_LINE.match(line)
    if alias:
        if current is not None:
            current.names.append(alias["name"].lower())
        return current
    match = _VHOST_LINE.match(line)
    if not match or line.lstrip().endswith("is a NameVirtualHost"):
        return None
    key = (os.path.realpath(match["file"]), int(match["line"]))
    vhost = vhosts.setdefault(key, DumpVhost(key[0], key[1]))
    name = match["name"].lower()
    if name not in vhost.names:
        vhost.names.insert(0, name)
    return None if line.lstrip().startswith("default server") else vhost


def resolve_command(command: str) -> str:
    """The absolute path of the control command *command*.

    Raises:
        PluginError: it is not installed (or not executable).
    """
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin:/usr/bin")
    if found is None:
        raise PluginError(
            f"The Apache control command {command!r} was not found",
            "Install Apache (apache2 on Debian, httpd on RHEL) or pass --apache-ctl",
        )
    return found


def error_lines(text: str, limit: int = 4) -> str:
    """The last *limit* non-empty lines of Apache's output, joined for one-line errors."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-limit:]) or "no output"


class ApacheCtl:
    """Runs the control command: ``-t``, the dumps, ``-k graceful``."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.path = resolve_command(command)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the control command with *args* (output captured, bounded in time).

        Raises:
            PluginError: it could not be started or did not finish in time.
        """
        try:
            return subprocess.run(
                [self.path, *args],
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PluginError(
                f"Running {self.command} {' '.join(args)} failed: {exc}",
                "Check --apache-ctl",
            ) from exc

    def dump(self) -> ApacheDump | None:
        """Apache's own view of its configuration; ``None`` when its parser refuses it."""
        proc = self.run(*DUMP_ARGS)
        if proc.returncode != 0:
            logger.warning("Apache could not dump its configuration: %s", error_lines(proc.stderr))
            return None
        return parse_dump(proc.stdout + "\n" + proc.stderr)

    def config_test(self) -> None:
        """``<ctl> -t``.

        Raises:
            InstallerError: Apache rejects the configuration (its message included).
        """
        proc = self.run("-t")
        if proc.returncode != 0:
            raise InstallerError(
                f"Apache's configuration test failed: {error_lines(proc.stderr + proc.stdout)}",
                f"Run `{self.command} -t` to see the whole message",
            )

    def graceful(self, pid_file: str | None) -> None:
        """``<ctl> -k graceful``, then wait until Apache runs with the new configuration.

        Raises:
            InstallerError: the restart command failed.
        """
        before = _generation(pid_file)
        proc = self.run("-k", "graceful")
        if proc.returncode != 0:
            raise InstallerError(
                f"Apache's graceful restart failed: {error_lines(proc.stderr + proc.stdout)}",
                f"Check `{self.command} -t` and Apache's error log",
            )
        if pid_file is None:
            logger.debug("No PidFile known: not waiting for the new generation")
            return
        deadline = time.monotonic() + GENERATION_TIMEOUT
        gone_since: float | None = None
        while time.monotonic() < deadline:
            now = _generation(pid_file)
            if now is not None and _is_new(before, now):
                logger.debug("Apache runs a new generation (parent %s)", now[0])
                return
            if now is None and before is not None:
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since > GONE_AFTER:
                    raise InstallerError(
                        "Apache stopped during the graceful restart",
                        "Its error log says why; the previous configuration is restored",
                    )
            else:
                gone_since = None
            time.sleep(_POLL)
        logger.warning(
            "Apache did not show a new generation within %s s of the graceful restart",
            GENERATION_TIMEOUT,
        )


def _is_new(before: tuple[int, frozenset[int]] | None, now: tuple[int, frozenset[int]]) -> bool:
    if not now[1]:
        return False
    if before is None or before[0] != now[0]:
        return True
    return bool(now[1] - before[1])


def _generation(pid_file: str | None) -> tuple[int, frozenset[int]] | None:
    """(parent pid, its children) of the running Apache, or ``None`` when it is not running."""
    if pid_file is None:
        return None
    try:
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid, frozenset(_children(pid))


def _children(pid: int) -> set[int]:
    children: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                children.update(int(part) for part in handle.read().split())
        return children
    except OSError:
        pass
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == str(pid):
            children.add(int(entry))
    return children
