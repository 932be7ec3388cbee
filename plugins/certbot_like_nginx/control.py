"""Running nginx: ``-t`` (test), ``-T`` (dump), ``-s reload`` and waiting for the reload.

Every reload is preceded by ``-t``: nginx never gets a configuration it would refuse.

``--nginx-ctl`` is the nginx binary or a wrapper script taking nginx's flags (tests use one
that adds ``-p PREFIX -c PREFIX/nginx.conf``); a value that is not an existing file is split
like a shell command line. A reload is graceful: nginx's master starts new workers with the
new configuration and tells the old ones to finish their requests and exit. We wait until
that has happened by watching the master's children (from its pid file): the reload is done
when a new worker runs and every old one is gone or "shutting down"; no new worker within
``--nginx-sleep-seconds`` means nginx kept the old configuration (for example because a new
port is in use), which is an error. Without a pid file to watch we wait that long instead.

``--nginx-server-root`` as certbot means it: when ``ROOT/nginx.conf`` is not the file nginx
loads by default (its compiled ``--conf-path``), every ``-t``, ``-T`` and ``-s reload`` gets
``-c ROOT/nginx.conf``, and ``-p PREFIX`` too when the running master was started with one
(read from its process title, which nginx sets to its command line), so relative paths such
as the ``pid`` file resolve as they do for that master.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from certbot_like.errors import InstallerError, PluginError

logger = logging.getLogger(__name__)

RUN_TIMEOUT = 120.0
POLL_INTERVAL = 0.01
_DUMP_HEADER = re.compile(r"^# configuration file (.+):$", re.M)


def ctl_argv(ctl: str) -> list[str]:
    """The command for ``--nginx-ctl``: a file path as is, else a shell-like split."""
    if os.path.isfile(ctl) or not ctl.strip():
        return [ctl]
    return shlex.split(ctl)


def nginx_message(output: str) -> str:
    """The lines of nginx's output that say what is wrong, as one line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    serious = [
        line
        for line in lines
        if any(f"[{level}]" in line for level in ("emerg", "alert", "crit", "error"))
    ]
    chosen = serious or lines[-1:]
    return "; ".join(line.removeprefix("nginx: ") for line in chosen) or "no output"


class NginxControl:
    """Runs the nginx binary (or wrapper) given by ``--nginx-ctl``."""

    def __init__(self, ctl: str, server_root: Path, wait_seconds: float) -> None:
        self.ctl = ctl
        self.argv = ctl_argv(ctl)
        self.server_root = server_root
        self.wait_seconds = max(0.1, wait_seconds)
        self._conf_args: list[str] | None = None
        self._compiled_cache: dict[str, str] | None = None

    def conf_args(self) -> list[str]:
        """``-c ROOT/nginx.conf`` (after ``-p PREFIX`` when the running master has one) when
        ROOT is not nginx's compiled-in root; nothing otherwise."""
        if self._conf_args is None:
            self._conf_args = []
            compiled = self._compiled()
            conf = self.server_root / "nginx.conf"
            default = compiled.get("conf-path") or os.path.join(
                compiled.get("prefix", "/usr/local/nginx"), "conf/nginx.conf"
            )
            if compiled and os.path.realpath(conf) != os.path.realpath(default):
                self._conf_args = ["-c", str(conf)]
                master = find_master(conf)
                if master is not None and master[1]:
                    self._conf_args = ["-p", master[1], *self._conf_args]
                logger.debug("nginx runs with %s", " ".join(self._conf_args))
        return self._conf_args

    def _run(self, *args: str, conf: bool = True) -> subprocess.CompletedProcess[str]:
        extra = self.conf_args() if conf else []
        try:
            return subprocess.run(
                [*self.argv, *extra, *args],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=RUN_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise PluginError(
                f"Cannot run nginx: {self.argv[0]} not found",
                "Install nginx or give its path with --nginx-ctl",
            ) from None
        except PermissionError:
            raise PluginError(
                f"Cannot run nginx: {self.argv[0]} is not executable",
                "Fix its permissions or give another --nginx-ctl",
            ) from None
        except subprocess.TimeoutExpired:
            raise PluginError(
                f"nginx {' '.join(args)} did not finish within {RUN_TIMEOUT:.0f} s"
            ) from None

    def test(self) -> None:
        """``nginx -t``.

        Raises:
            InstallerError: nginx rejects the configuration (with its message).
        """
        proc = self._run("-t")
        if proc.returncode != 0:
            raise InstallerError(
                f"nginx -t rejects the configuration: {nginx_message(proc.stderr + proc.stdout)}",
                "The configuration was restored; nginx keeps its previous configuration",
            )

    def dump(self) -> dict[str, str]:
        """The files nginx loads and their text, in order (``nginx -T``).

        Raises:
            PluginError: nginx rejects its current configuration (nothing was changed).
        """
        proc = self._run("-T")
        if proc.returncode != 0:
            raise PluginError(
                "nginx rejects its current configuration: "
                + nginx_message(proc.stderr + proc.stdout),
                "Fix it first (nginx -t); certbot-like changed nothing",
            )
        found: dict[str, str] = {}
        headers = list(_DUMP_HEADER.finditer(proc.stdout))
        for header, following in zip(headers, [*headers[1:], None], strict=True):
            end = following.start() if following else len(proc.stdout)
            found[header.group(1)] = proc.stdout[header.end() + 1 : end]
        return found

    # -- reload -------------------------------------------------------------------------------

    def master_pid(self, pid_directive: str | None) -> int | None:
        """The running master's pid, from the pid file nginx itself would use (with a
        server root of its own: else the master started with ``-c ROOT/nginx.conf``)."""
        for path in self._pid_files(pid_directive):
            try:
                pid = int(Path(path).read_text().strip())
            except (OSError, ValueError):
                continue
            if _cmdline(pid).startswith("nginx: master process"):
                return pid
        if self.conf_args():
            master = find_master(self.server_root / "nginx.conf")
            return master[0] if master else None
        return None

    def _pid_files(self, pid_directive: str | None) -> list[str]:
        compiled = self._compiled()
        args = self.conf_args()
        prefix = args[1] if args[:1] == ["-p"] else compiled.get("prefix", "/usr/local/nginx")
        if pid_directive:
            if os.path.isabs(pid_directive):
                return [pid_directive]
            return [str(self.server_root / pid_directive), os.path.join(prefix, pid_directive)]
        path = compiled.get("pid-path", "logs/nginx.pid")
        if os.path.isabs(path):
            return [path]
        return [os.path.join(prefix, path), str(self.server_root / path)]

    def _compiled(self) -> dict[str, str]:
        """nginx's compiled-in ``prefix``, ``conf-path`` and ``pid-path`` (``nginx -V``)."""
        if self._compiled_cache is None:
            try:
                proc = self._run("-V", conf=False)
            except PluginError:
                return {}
            self._compiled_cache = dict(
                re.findall(r"--(prefix|conf-path|pid-path)=(\S+)", proc.stderr + proc.stdout)
            )
        return self._compiled_cache

    def reload(self, pid_directive: str | None) -> None:
        """``nginx -t``, ``nginx -s reload``, then wait until the new configuration serves.

        Raises:
            InstallerError: nginx rejects the configuration, is not running, refused the
                signal, exited, or kept its old configuration (no new worker within
                ``--nginx-sleep-seconds``).
        """
        self.test()
        master = self.master_pid(pid_directive)
        before = _children(master) if master else set()
        proc = self._run("-s", "reload")
        if proc.returncode != 0:
            raise InstallerError(
                "nginx could not be reloaded (is it running?): "
                + nginx_message(proc.stderr + proc.stdout),
                "Start nginx, then run certbot-like again",
            )
        if master is None:
            logger.debug("No nginx master pid to watch; waiting %.1f s", self.wait_seconds)
            time.sleep(self.wait_seconds)
            return
        self._wait(master, before)

    def _wait(self, master: int, before: set[int]) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            if not _cmdline(master).startswith("nginx: master process"):
                raise InstallerError("nginx exited while reloading", "See nginx's error log")
            now = _children(master)
            new = now - before
            old_busy = [p for p in before & now if _serving(p)]
            if new and not old_busy:
                logger.debug(
                    "nginx reloaded: workers %s replaced by %s", sorted(before), sorted(new)
                )
                return
            if time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL)
        if not new:
            raise InstallerError(
                f"nginx kept its previous configuration: no new worker process within "
                f"{self.wait_seconds:g} s of the reload",
                "nginx's error log says why (for example a port already in use)",
            )
        logger.warning("nginx's old workers are still busy after %g s", self.wait_seconds)


def find_master(conf: Path) -> tuple[int, str | None] | None:
    """(pid, ``-p`` prefix or None) of a running nginx master started with ``-c`` *conf*."""
    want = os.path.realpath(conf)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        title = _cmdline(int(entry))
        if not title.startswith("nginx: master process"):
            continue
        words = title.split()
        options = dict(zip(words, [*words[1:], ""], strict=True))
        if options.get("-c") and os.path.realpath(options["-c"]) == want:
            return int(entry), options.get("-p") or None
    return None


def _serving(pid: int) -> bool:
    """Whether *pid* is a worker still accepting connections (not exiting, not a zombie)."""
    title = _cmdline(pid)
    return bool(title) and "shutting down" not in title


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _children(pid: int) -> set[int]:
    """The live child processes of *pid* (from /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return {int(p) for p in text.split()}
    except (OSError, ValueError):
        pass
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] != "Z":
            found.add(int(entry))
    return found
