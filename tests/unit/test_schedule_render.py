"""``certbot-like schedule``: the rendered systemd units and cron file.

The rendered units are checked with the real ``systemd-analyze verify`` when it is installed
(it needs no running systemd); without it that one test is skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from certbot_like.errors import UsageError
from certbot_like.schedule import (
    INTERVALS,
    MARKER,
    SERVICE_NAME,
    TIMER_NAME,
    Schedule,
    check_interval,
    render_cron,
    render_service,
    render_timer,
    renew_arguments,
    systemd_quote,
)
from certbot_like.storage.layout import Layout

EXE = Path("/opt/certbot-like/bin/certbot-like")


def unit_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# --- rendering -----------------------------------------------------------------------------


def test_default_timer_runs_twice_daily_with_an_hour_of_random_delay() -> None:
    text = render_timer(Schedule(EXE))
    assert text.startswith(MARKER)
    assert unit_lines(text) == [
        "[Unit]",
        "Description=Run certbot-like renew every 12 hours",
        "[Timer]",
        "OnCalendar=*-*-* 00,12:00:00",
        "RandomizedDelaySec=1h",
        "Persistent=true",
        "[Install]",
        "WantedBy=timers.target",
    ]


def test_service_runs_renew_quietly_without_its_own_random_sleep() -> None:
    text = render_service(Schedule(EXE))
    lines = unit_lines(text)
    assert "Type=oneshot" in lines
    assert f"ExecStart={EXE} renew -q --no-random-sleep-on-renew" in lines
    assert "PrivateTmp=yes" in lines
    assert "After=network-online.target" in lines
    # renew, installers and hooks write under /etc, /var, /home ...: no file system sandbox.
    for risky in ("ProtectSystem", "ProtectHome", "ReadOnlyPaths", "NoNewPrivileges"):
        assert not any(line.startswith(risky) for line in lines), risky


def test_service_passes_non_default_directories_and_config_on_to_renew() -> None:
    layout = Layout(Path("/srv/le"), Path("/var/lib/letsencrypt"), Path("/srv/le-logs"))
    args = renew_arguments(layout, Path("/etc/le.ini"), no_directory_hooks=True)
    assert args == (
        "--no-directory-hooks",
        "--config",
        "/etc/le.ini",
        "--config-dir",
        "/srv/le",
        "--logs-dir",
        "/srv/le-logs",
    )
    assert renew_arguments(Layout()) == ()
    text = render_service(Schedule(EXE, renew_args=args))
    assert (
        f"ExecStart={EXE} renew -q --no-random-sleep-on-renew --no-directory-hooks "
        "--config /etc/le.ini --config-dir /srv/le --logs-dir /srv/le-logs"
    ) in text.splitlines()


@pytest.mark.parametrize(
    ("hours", "calendar", "delay", "cron_times"),
    [
        (1, "*-*-* *:00:00", "5min", "0 * * * *"),
        (2, "*-*-* 00/2:00:00", "10min", "0 */2 * * *"),
        (6, "*-*-* 00/6:00:00", "30min", "0 */6 * * *"),
        (8, "*-*-* 00/8:00:00", "40min", "0 */8 * * *"),
        (12, "*-*-* 00,12:00:00", "1h", "0 */12 * * *"),
        (24, "*-*-* 00:00:00", "2h", "0 0 * * *"),
    ],
)
def test_interval_variants(hours: int, calendar: str, delay: str, cron_times: str) -> None:
    schedule = Schedule(EXE, interval_hours=hours)
    timer = render_timer(schedule)
    assert f"OnCalendar={calendar}" in timer.splitlines()
    assert f"RandomizedDelaySec={delay}" in timer.splitlines()
    assert "Persistent=true" in timer.splitlines()
    job = render_cron(schedule).splitlines()[-1]
    assert job.startswith(f"{cron_times} root ")


@pytest.mark.parametrize("hours", [0, 5, 7, 9, 25, 48, -12])
def test_intervals_that_do_not_divide_a_day_are_refused(hours: int) -> None:
    with pytest.raises(UsageError, match="--interval") as info:
        check_interval(hours)
    assert info.value.exit_code == 2
    with pytest.raises(UsageError):
        Schedule(EXE, interval_hours=hours)
    assert set(INTERVALS) == {1, 2, 3, 4, 6, 8, 12, 24}


def test_cron_file_skips_itself_while_systemd_runs_the_timer() -> None:
    text = render_cron(Schedule(EXE, renew_args=("--config-dir", "/srv/le")))
    assert text.startswith(MARKER)
    assert text.endswith("\n")  # cron ignores a last line without a newline
    assert "SHELL=/bin/sh\n" in text
    assert "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n" in text
    job = text.splitlines()[-1]
    assert job == (
        "0 */12 * * * root test -d /run/systemd/system && systemctl -q is-active "
        f"{TIMER_NAME} || {EXE} renew -q --config-dir /srv/le"
    )
    # the client's own random sleep spreads cron runs: no --no-random-sleep-on-renew
    assert "--no-random-sleep-on-renew" not in job


def test_odd_paths_are_quoted_for_systemd_and_cron() -> None:
    exe = Path("/opt/my tools/100%/$HOME/certbot-like")
    service = render_service(Schedule(exe))
    assert 'ExecStart="/opt/my tools/100%%/$$HOME/certbot-like" renew' in service
    assert systemd_quote('a"b\\c') == '"a\\"b\\\\c"'
    spaced = render_cron(Schedule(Path("/opt/my tools/certbot-like")))
    assert "|| '/opt/my tools/certbot-like' renew -q" in spaced
    with pytest.raises(UsageError, match="cron treats %"):
        render_cron(Schedule(exe))
    with pytest.raises(UsageError, match="control characters"):
        Schedule(Path("/opt/x\n[Service]/certbot-like"))
    with pytest.raises(UsageError, match="not absolute"):
        Schedule(Path("bin/certbot-like"))


@pytest.mark.parametrize("hours", [1, 6, 12, 24])
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path, hours: int) -> None:
    # the only check of the units' syntax by systemd itself: a missing tool fails, never skips
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is not installed; apt-get install systemd")
    exe = tmp_path / "bin dir" / "certbot-like"  # a space: the quoting must hold
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    layout = Layout(tmp_path / "conf", tmp_path / "work", tmp_path / "logs 100%")
    schedule = Schedule(exe, interval_hours=hours, renew_args=renew_arguments(layout))
    units = tmp_path / "units"
    units.mkdir()
    (units / SERVICE_NAME).write_text(render_service(schedule))
    (units / TIMER_NAME).write_text(render_timer(schedule))
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(units / SERVICE_NAME), str(units / TIMER_NAME)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    ours = [line for line in proc.stderr.splitlines() if "certbot-like" in line]
    assert ours == [], proc.stderr  # no "Unknown key", "Failed to parse" ... for our units
