"""The hook runner: data only through the environment, timeouts kill the process group."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from certbot_like.errors import HookError
from certbot_like.hooks import OUTPUT_LIMIT, SubprocessHookRunner, hook_dir_commands
from certbot_like.services.hook_rules import HookRules


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def read_env_dump(path: Path) -> dict[str, str]:
    """Parse ``env -0`` output."""
    pairs = (item.split("=", 1) for item in path.read_text().split("\0") if item)
    return {key: value for key, value in pairs}


def process_gone(pid: int) -> bool:
    """True when *pid* no longer runs (a zombie waiting for a non-reaping init counts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_env_reaches_the_hook(tmp_path: Path) -> None:
    dump = tmp_path / "env"
    result = SubprocessHookRunner().run(
        f"env -0 > '{dump}'; echo done",
        {"CERTBOT_DOMAIN": "example.com", "X_EMPTY": ""},
        what="test hook",
    )
    assert result.returncode == 0
    assert result.stdout == "done\n"
    env = read_env_dump(dump)
    assert env["CERTBOT_DOMAIN"] == "example.com"
    assert env["X_EMPTY"] == ""
    assert env["PATH"] == os.environ["PATH"]  # the parent's environment is kept


def test_inherited_hook_variables_are_removed_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CERTBOT_TOKEN", "CERTBOT_DOMAIN", "RENEWED_LINEAGE", "FAILED_DOMAINS"):
        monkeypatch.setenv(name, "left over from an outer run")
    monkeypatch.setenv("CERTBOT_LIKE_CONFIG_FILE", "/etc/certbot-like/cli.ini")
    dump = tmp_path / "env"
    SubprocessHookRunner().run(f"env -0 > '{dump}'", {"CERTBOT_DOMAIN": "a.test"}, what="hook")
    env = read_env_dump(dump)
    hook_vars = {k: v for k, v in env.items() if k.startswith(("CERTBOT_", "RENEWED_", "FAILED_"))}
    assert hook_vars == {
        "CERTBOT_DOMAIN": "a.test",
        "CERTBOT_LIKE_CONFIG_FILE": "/etc/certbot-like/cli.ini",  # ours, not hook data
    }


@pytest.mark.parametrize(
    "template",
    [
        "$(touch {m})",
        "`touch {m}`",
        "; touch {m}",
        "' ; touch {m}; '",
        '"; touch {m}; "',
        "| touch {m}",
        "&& touch {m}",
        "\n touch {m}",
    ],
)
def test_env_values_are_never_executed(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    value = template.format(m=marker)
    out = tmp_path / "out"
    SubprocessHookRunner().run(f"printf %s \"$EVIL\" > '{out}'", {"EVIL": value}, what="hook")
    assert out.read_text() == value
    assert not marker.exists()


def test_stdin_is_devnull_and_output_is_bounded() -> None:
    result = SubprocessHookRunner().run(
        "cat; head -c 300000 /dev/zero | tr '\\0' a; echo tail >&2", {}, what="hook"
    )
    assert len(result.stdout) == OUTPUT_LIMIT
    assert result.stdout.endswith("a")
    assert result.stderr == "tail\n"


def test_non_zero_exit_names_hook_code_and_last_stderr_line() -> None:
    with pytest.raises(HookError) as info:
        SubprocessHookRunner().run(
            "echo out; echo first >&2; printf 'bad \\033[31mthing\\n\\n' >&2; exit 3",
            {},
            what="deploy hook",
        )
    message = str(info.value)
    assert "deploy hook failed with exit code 3" in message
    assert info.value.message.endswith(": bad ?[31mthing")  # only the last line
    assert "\033" not in message and "\n" not in message
    assert info.value.exit_code == 9


def test_missing_command_hints_at_the_path() -> None:
    with pytest.raises(HookError) as info:
        SubprocessHookRunner().run("/nonexistent/hook-script --x", {}, what="pre hook")
    assert "exit code 127" in info.value.message
    assert info.value.hint is not None and "check the path" in info.value.hint


def test_killed_by_signal() -> None:
    with pytest.raises(HookError, match="killed by SIGKILL"):
        SubprocessHookRunner().run("kill -9 $$", {}, what="post hook")


def test_empty_command_is_refused() -> None:
    with pytest.raises(HookError, match="empty command"):
        SubprocessHookRunner().run("  ", {}, what="post hook")


@pytest.mark.parametrize(
    "command",
    [
        "sleep 60",
        "sh -c 'sleep 60 & echo $! > \"$PIDFILE\"; sleep 60'",
        "trap '' TERM; sleep 60 & echo $! > \"$PIDFILE\"; wait",  # ignores SIGTERM: SIGKILL
    ],
)
def test_timeout_kills_the_process_group(tmp_path: Path, command: str) -> None:
    pidfile = tmp_path / "pid"
    runner = SubprocessHookRunner(timeout=0.5)
    start = time.monotonic()
    with pytest.raises(HookError) as info:
        runner.run(command, {"PIDFILE": str(pidfile)}, what="auth hook")
    elapsed = time.monotonic() - start
    assert elapsed < 0.5 + 2.0
    assert info.value.message.startswith("auth hook timed out after 0.5 s: ")
    if "PIDFILE" in command:
        child = int(pidfile.read_text())
        assert wait_for(lambda: process_gone(child), 2.0)


def test_background_child_holding_output_does_not_block(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    start = time.monotonic()
    result = SubprocessHookRunner(timeout=30).run(
        'sleep 5 & echo $! > "$PIDFILE"; echo started', {"PIDFILE": str(pidfile)}, what="post hook"
    )
    assert time.monotonic() - start < 4.0
    assert result.stdout == "started\n"
    os.kill(int(pidfile.read_text()), 9)


def make_hook(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(mode)
    return path


def _rules(tmp_path: Path, **kw: bool) -> HookRules:
    return HookRules(SubprocessHookRunner(), lambda stage: tmp_path / stage, **kw)


def test_hook_dir_runs_executables_in_sorted_order(tmp_path: Path) -> None:
    hooks = tmp_path / "deploy"
    hooks.mkdir()
    log = tmp_path / "log"
    body = f'echo "$(basename "$0") $RENEWED_LINEAGE" >> \'{log}\''
    for name in ("20-b", "10-a", "99 space", ".hidden"):
        make_hook(hooks, name, body)
    make_hook(hooks, "50-not-exec", body, mode=0o644)
    for name in ("30-x~", "30-x.bak", "30-x.dpkg-old", "30-x.dpkg-dist"):
        make_hook(hooks, name, body)
    (hooks / "40-dir").mkdir()
    assert len(hook_dir_commands(hooks)) == 4
    _rules(tmp_path).deploy(None, "/l/a", ["a.test"])
    assert log.read_text().splitlines() == [
        ".hidden /l/a",
        "10-a /l/a",
        "20-b /l/a",
        "99 space /l/a",
    ]


def test_a_failing_hook_is_reported_and_the_others_still_run(tmp_path: Path) -> None:
    hooks = tmp_path / "post"
    hooks.mkdir()
    log = tmp_path / "log"
    make_hook(hooks, "01-fail", f"echo 01 >> '{log}'; echo first failure >&2; exit 4")
    make_hook(hooks, "02-ok", f"echo 02 >> '{log}'")
    rules = _rules(tmp_path)
    rules.post(f"echo cmd >> '{log}'; exit 5", ["a.test"])  # nothing raised: certbot's rule
    assert log.read_text().split() == ["01", "02", "cmd"]
    assert len(rules.failures) == 2
    assert "post-hook" in rules.failures[0] and "first failure" in rules.failures[0]


def test_pre_hooks_run_the_directory_first_and_each_command_once(tmp_path: Path) -> None:
    hooks = tmp_path / "pre"
    hooks.mkdir()
    log = tmp_path / "log"
    script = make_hook(hooks, "10-stop", f"echo dir >> '{log}'")
    rules = _rules(tmp_path)
    rules.pre(f"echo cmd >> '{log}'")
    rules.pre(f"echo cmd >> '{log}'")  # a second lineage with the same pre-hook
    rules.pre(str(script))  # --pre-hook naming the directory's own script
    rules.pre(f"echo other >> '{log}'")
    assert log.read_text().split() == ["dir", "cmd", "other"]


def test_renew_collects_post_hooks_once_with_renewed_and_failed_names(tmp_path: Path) -> None:
    log = tmp_path / "log"
    probe = f"echo \"$RENEWED_DOMAINS|$FAILED_DOMAINS\" >> '{log}'"
    rules = _rules(tmp_path, collect_posts=True)
    rules.post(probe, ["a.test"])
    rules.post(probe, ["b.test"])
    assert not log.exists(), "renew runs post-hooks only at the end"
    rules.run_collected_posts(["a.test"], ["b.test"])
    assert log.read_text().splitlines() == ["a.test|b.test"]


def test_deploy_hooks_are_skipped_in_a_dry_run_unless_asked(tmp_path: Path) -> None:
    log = tmp_path / "log"
    _rules(tmp_path, dry_run=True).deploy(f"echo d >> '{log}'", "/l/a", ["a.test"])
    assert not log.exists()
    _rules(tmp_path, dry_run=True, run_deploy_hooks=True).deploy(
        f"echo d >> '{log}'", "/l/a", ["a.test"]
    )
    assert log.read_text() == "d\n"


def test_missing_hook_dir_runs_nothing(tmp_path: Path) -> None:
    assert hook_dir_commands(tmp_path / "nope") == []


def test_interrupt_while_waiting_kills_the_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "pid"

    def interrupted_pump(*args: object, **kwargs: object) -> bool:
        assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
        raise KeyboardInterrupt

    monkeypatch.setattr(SubprocessHookRunner, "_pump", staticmethod(interrupted_pump))
    with pytest.raises(KeyboardInterrupt):
        SubprocessHookRunner().run(
            'sleep 60 & echo $! > "$PIDFILE"; wait', {"PIDFILE": str(pidfile)}, what="pre hook"
        )
    assert wait_for(lambda: process_gone(int(pidfile.read_text())), 2.0)
