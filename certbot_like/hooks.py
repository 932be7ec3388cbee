"""Running operator-supplied hook commands (``--pre-hook``, ``--manual-auth-hook`` ...).

A hook command is the operator's own shell text and runs as ``/bin/sh -c COMMAND``. Data
(domains, tokens, paths) never becomes part of that text: it reaches the hook only through
environment variables, so a hostile value such as ``$(rm -rf /)`` is inert.

Each hook runs in its own session with stdin from ``/dev/null``; its output is captured (the
last :data:`OUTPUT_LIMIT` bytes of each stream) and logged. On timeout the hook's whole process
group gets SIGTERM, then SIGKILL after a short grace period, so a hook's children die too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from certbot_like.errors import HookError
from certbot_like.interfaces import HookResult

logger = logging.getLogger(__name__)

OUTPUT_LIMIT = 64 * 1024
HOOK_VARIABLE_PREFIXES = ("CERTBOT_", "RENEWED_", "FAILED_")
"""Bytes kept of each of a hook's stdout and stderr (the tail)."""

SKIPPED_SUFFIXES = ("~", ".bak")
"""Editor and backup leftovers in a hook directory, never run (nor ``*.dpkg-*`` files)."""

_POLL = 0.1  # how often to check whether the hook exited while its pipes stay open
_DRAIN = 1.0  # how long to keep reading after the hook exited (background children)


def _printable(text: str, limit: int = 200) -> str:
    """*text* as one printable line of at most *limit* characters."""
    line = "".join(ch if ch.isprintable() else "?" for ch in " ".join(text.split()))
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return _printable(lines[-1]) if lines else ""


class SubprocessHookRunner:
    """Runs hooks with ``/bin/sh -c``; implements :class:`~certbot_like.interfaces.HookRunner`.

    *timeout* is in seconds, per hook run.
    """

    kill_grace: float = 1.0
    """Seconds between SIGTERM and SIGKILL when a hook times out."""

    def __init__(self, timeout: float = 300.0) -> None:
        self.timeout = timeout

    def run(self, command: str, env: Mapping[str, str], *, what: str) -> HookResult:
        """Run *command* through ``/bin/sh -c`` with *env* added to ``os.environ``.

        *what* names the hook in messages (``"deploy hook"``).

        Raises:
            HookError: the hook could not be started, exited non-zero, was killed by a
                signal or timed out (then its whole process group is killed).
        """
        short = _printable(command, 40)
        if not command.strip():
            raise HookError(f"The {what} is an empty command", "Give a command or drop the flag")
        # Variables a previous hook run could have left in our own environment must not leak
        # into this one (certbot clears them too): only *env* supplies hook data.
        full_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(HOOK_VARIABLE_PREFIXES) or k.startswith("CERTBOT_LIKE_")
        }
        full_env.update(env)
        logger.info("Running %s: %s", what, command)
        logger.debug("Environment added for %s: %s", what, ", ".join(sorted(env)) or "none")
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=full_env,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:  # ValueError: NUL byte in the environment
            raise HookError(
                f"Could not start the {what} ({short}): {exc}",
                "Check the hook command and its environment",
            ) from exc
        try:
            returncode, out, err = self._supervise(proc, what, short)
        except HookError:
            raise
        except BaseException:  # Ctrl-C reaches only our process group: stop the hook too
            if proc.returncode is None:
                self._kill_group(proc)
            raise
        finally:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        result = HookResult(returncode, out, err)
        self._log(result, what)
        if returncode != 0:
            raise self._failure(result, what, short)
        return result

    def _supervise(
        self, proc: subprocess.Popen[bytes], what: str, short: str
    ) -> tuple[int, str, str]:
        assert proc.stdout is not None and proc.stderr is not None
        bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
        with selectors.DefaultSelector() as sel:
            for fd in bufs:
                os.set_blocking(fd, False)
                sel.register(fd, selectors.EVENT_READ)
            deadline = time.monotonic() + self.timeout
            exited = self._pump(sel, bufs, proc, deadline)
            if not exited:
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._kill_group(proc)
                    self._pump(sel, bufs, proc, time.monotonic() + 0.5)
                    raise HookError(
                        f"{what} timed out after {self.timeout:g} s: {short}",
                        "The hook and its child processes were killed; make it finish faster"
                        " or run long work in the background",
                    ) from None
        out, err = (bytes(buf).decode("utf-8", "replace") for buf in bufs.values())
        return proc.wait(), out, err

    @staticmethod
    def _pump(
        sel: selectors.BaseSelector,
        bufs: dict[int, bytearray],
        proc: subprocess.Popen[bytes],
        deadline: float,
    ) -> bool:
        """Read output until both pipes close or *deadline*; True if the hook has exited.

        When the hook exits but a background child keeps a pipe open, reading stops after
        a short drain instead of waiting for that child.
        """
        exited_at: float | None = None
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > _DRAIN:
                logger.debug("Hook exited but a child process keeps its output open")
                break
            if now >= deadline:
                break
            for key, _ in sel.select(min(deadline - now, _POLL)):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                buf = bufs[key.fd]
                buf += chunk
                if len(buf) > OUTPUT_LIMIT:
                    del buf[:-OUTPUT_LIMIT]
        return exited_at is not None or proc.poll() is not None

    def _kill_group(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the hook's process group, then SIGKILL it once the leader is gone or
        after the grace period. The leader is not reaped before the SIGKILL, so its pid (the
        group id) cannot have been reused."""
        pgid = proc.pid
        self._signal_group(pgid, signal.SIGTERM)
        grace_end = time.monotonic() + self.kill_grace
        while time.monotonic() < grace_end:
            try:
                if os.waitid(os.P_PID, pgid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    break
            except ChildProcessError:
                break
            time.sleep(0.02)
        self._signal_group(pgid, signal.SIGKILL)
        proc.wait()

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    @staticmethod
    def _log(result: HookResult, what: str) -> None:
        logger.debug("%s exited with code %d", what, result.returncode)
        if result.stdout.strip():
            logger.info("Output from %s:\n%s", what, result.stdout.rstrip())
        if result.stderr.strip():
            logger.info("Error output from %s:\n%s", what, result.stderr.rstrip())

    @staticmethod
    def _failure(result: HookResult, what: str, short: str) -> HookError:
        code = result.returncode
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            message = f"{what} was killed by {name}: {short}"
        else:
            message = f"{what} failed with exit code {code}: {short}"
        last = _last_line(result.stderr)
        if last:
            message += f": {last}"
        if code == 127:
            hint = "Command not found: check the path of the hook's command"
        elif code == 126:
            hint = "The command is not executable: check its permissions"
        else:
            hint = "See the log for the hook's full output"
        return HookError(message, hint)


def _skipped(name: str) -> bool:
    return name.endswith(SKIPPED_SUFFIXES) or ".dpkg-" in name


def hook_dir_commands(directory: Path) -> list[str]:
    """The executables of a ``renewal-hooks/{pre,deploy,post}/`` directory, sorted, as the
    absolute paths certbot runs (and compares with ``--pre-hook`` to run a command once).

    Non-executable files, directories and backups (``~``, ``.bak``, ``.dpkg-*``) are
    skipped; a missing directory has none.

    Raises:
        HookError: the directory exists but cannot be listed.
    """
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise HookError(
            f"Could not list the hook directory {directory}: {exc.strerror}",
            "Fix its permissions",
        ) from exc
    found: list[str] = []
    for name in names:
        path = directory / name
        if _skipped(name):
            logger.debug("Skipping %s: a backup file", path)
        elif not path.is_file() or not os.access(path, os.X_OK):
            logger.debug("Skipping %s: not an executable regular file", path)
        else:
            found.append(str(path))
    return found
