"""``certbot-like schedule``: install, remove, status and the CLI.

Nothing here touches the machine: every test writes into temporary directories and runs a
fake ``systemctl`` through :class:`certbot_like.schedule.Host`'s runner seam. The rendered
units and cron file are tested in test_schedule_render.py.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from certbot_like.cli.main import cli
from certbot_like.errors import ConfigError, UsageError
from certbot_like.schedule import (
    CRON_NAME,
    MARKER,
    TIMER_NAME,
    CommandResult,
    Host,
    Schedule,
    find_certbot_renewers,
    install,
    remove,
    render_cron,
    render_service,
    render_timer,
    status,
)
from tests.harness.clirun import invoke_cli, run_main

EXE = Path("/opt/certbot-like/bin/certbot-like")
DEBIAN_CERTBOT_CRON = (
    "SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n\n"
    "0 */12 * * * root test -x /usr/bin/certbot -a \\! -d /run/systemd/system && "
    "perl -e 'sleep int(rand(43200))' && certbot -q renew --no-random-sleep-on-renew\n"
)
MUTATING = {"daemon-reload", "enable", "disable", "start", "stop", "restart"}


class FakeSystemctl:
    """Records every call; ``is-active`` answers from *active*, *fail* verbs exit 1."""

    def __init__(self, active: Sequence[str] = (), fail: Sequence[str] = ()) -> None:
        self.calls: list[list[str]] = []
        self.active = set(active)
        self.fail = set(fail)

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        assert argv[0] == "/usr/bin/systemctl"
        args = list(argv[1:])
        self.calls.append(args)
        verb = args[0]
        if verb in self.fail:
            return CommandResult(1, "", f"Failed to {verb}: Access denied\nmore detail\n")
        if verb == "is-active":
            return CommandResult(0 if args[-1] in self.active else 3)
        if verb == "show":
            return CommandResult(
                0,
                "ActiveState=active\nUnitFileState=enabled\n"
                "NextElapseUSecRealtime=Thu 2026-11-26 00:41:07 UTC\nLastTriggerUSec=n/a\n",
            )
        if verb == "list-timers":
            return CommandResult(
                0,
                "NEXT                        LEFT    LAST PASSED UNIT                       "
                "ACTIVATES\nThu 2026-11-26 00:41:07 UTC 12h left n/a  n/a    "
                "certbot-like-renew.timer certbot-like-renew.service\n\n1 timers listed.\n",
            )
        return CommandResult(0)

    @property
    def changes(self) -> list[list[str]]:
        """The calls that change something (not is-active, show, list-timers)."""
        return [c for c in self.calls if c[0] in MUTATING]


@pytest.fixture
def fake() -> FakeSystemctl:
    return FakeSystemctl()


def make_host(tmp_path: Path, fake: FakeSystemctl, *, systemd: bool = True, **kw: object) -> Host:
    dirs = {name: tmp_path / name for name in ("systemd", "cron.d", "run-systemd")}
    for name, path in dirs.items():
        if name != "run-systemd" or systemd:
            path.mkdir(exist_ok=True)
    values: dict[str, object] = {
        "systemd_dir": dirs["systemd"],
        "cron_dir": dirs["cron.d"],
        "systemd_runtime_dir": dirs["run-systemd"],
        "systemctl": "/usr/bin/systemctl",
        "runner": fake,
        "executable": EXE,
    }
    values.update(kw)
    return Host(**values)  # type: ignore[arg-type]


@pytest.fixture
def host(tmp_path: Path, fake: FakeSystemctl) -> Host:
    return make_host(tmp_path, fake)


# --- install -------------------------------------------------------------------------------


def test_install_systemd_writes_both_units_and_enables_the_timer(
    host: Host, fake: FakeSystemctl
) -> None:
    schedule = Schedule(EXE)
    result = install(host, schedule)
    assert result.method == "systemd"
    assert result.written == [host.service_path, host.timer_path]
    assert host.service_path.read_text() == render_service(schedule)
    assert host.timer_path.read_text() == render_timer(schedule)
    for path in result.written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert fake.changes == [["daemon-reload"], ["enable", "--now", TIMER_NAME]]
    assert not host.cron_path.exists()
    assert not result.already_installed


def test_install_is_idempotent(host: Host, fake: FakeSystemctl) -> None:
    install(host, Schedule(EXE))
    inodes = [p.stat().st_ino for p in (host.service_path, host.timer_path)]
    fake.calls.clear()
    again = install(host, Schedule(EXE))
    assert again.already_installed
    assert again.written == []
    assert again.unchanged == [host.service_path, host.timer_path]
    assert [p.stat().st_ino for p in (host.service_path, host.timer_path)] == inodes
    assert fake.changes == [["enable", "--now", TIMER_NAME]]  # no daemon-reload needed
    changed = install(host, Schedule(EXE, interval_hours=6))
    assert changed.written == [host.timer_path]
    assert "OnCalendar=*-*-* 00/6:00:00" in host.timer_path.read_text()
    assert fake.changes[-2:] == [["daemon-reload"], ["enable", "--now", TIMER_NAME]]


def test_install_repairs_a_file_whose_mode_changed(host: Host) -> None:
    install(host, Schedule(EXE))
    host.timer_path.chmod(0o666)
    result = install(host, Schedule(EXE))
    assert result.written == [host.timer_path]
    assert stat.S_IMODE(host.timer_path.stat().st_mode) == 0o644


def test_method_follows_the_running_init_system(tmp_path: Path, fake: FakeSystemctl) -> None:
    no_systemd = make_host(tmp_path, fake, systemd=False)
    result = install(no_systemd, Schedule(EXE))
    assert result.method == "cron"
    assert result.written == [no_systemd.cron_path]
    assert no_systemd.cron_path.read_text() == render_cron(Schedule(EXE))
    assert stat.S_IMODE(no_systemd.cron_path.stat().st_mode) == 0o644
    assert fake.calls == []  # systemctl cannot talk to a systemd that is not running
    assert not no_systemd.service_path.exists()


def test_forced_systemd_without_running_systemd_writes_units_but_does_not_enable(
    tmp_path: Path, fake: FakeSystemctl
) -> None:
    offline = make_host(tmp_path, fake, systemd=False)
    result = install(offline, Schedule(EXE), "systemd")
    assert result.written == [offline.service_path, offline.timer_path]
    assert fake.calls == []
    assert any("systemd is not running" in note for note in result.notes)


def test_no_enable_and_missing_systemctl_skip_systemctl(
    tmp_path: Path, fake: FakeSystemctl
) -> None:
    host = make_host(tmp_path, fake)
    result = install(host, Schedule(EXE), enable=False)
    assert fake.changes == []
    assert any("--no-enable" in note for note in result.notes)
    bare = make_host(tmp_path, fake, systemctl=None)
    fake.calls.clear()
    result = install(bare, Schedule(EXE, interval_hours=6))
    assert fake.calls == []
    assert any("systemctl was not found" in note for note in result.notes)


def test_a_failing_systemctl_is_a_config_error(tmp_path: Path) -> None:
    failing = FakeSystemctl(fail=["enable"])
    host = make_host(tmp_path, failing)
    with pytest.raises(ConfigError, match=r"enable --now .*Access denied") as info:
        install(host, Schedule(EXE))
    assert info.value.exit_code == 3
    assert "\n" not in info.value.one_line()
    assert host.timer_path.exists()  # written; the next install only enables it


def test_switching_methods_leaves_exactly_one_renewer(host: Host, fake: FakeSystemctl) -> None:
    install(host, Schedule(EXE))
    fake.calls.clear()
    result = install(host, Schedule(EXE), "cron")
    assert result.written == [host.cron_path]
    assert set(result.removed) == {host.service_path, host.timer_path}
    assert not host.service_path.exists()
    assert fake.changes == [["disable", "--now", TIMER_NAME], ["daemon-reload"]]
    back = install(host, Schedule(EXE), "systemd")
    assert back.removed == [host.cron_path]
    assert not host.cron_path.exists()


def test_files_of_our_names_not_written_by_us_are_kept_unless_forced(host: Host) -> None:
    host.timer_path.write_text("[Timer]\nOnCalendar=hourly\n")
    with pytest.raises(ConfigError, match="not written by certbot-like"):
        install(host, Schedule(EXE))
    assert host.timer_path.read_text() == "[Timer]\nOnCalendar=hourly\n"
    result = install(host, Schedule(EXE), force=True)
    assert host.timer_path in result.written
    assert host.timer_path.read_text().startswith(MARKER)


# --- certbot's own renewers ----------------------------------------------------------------


def test_an_enabled_certbot_timer_refuses_the_install(host: Host, fake: FakeSystemctl) -> None:
    wants = host.systemd_dir / "timers.target.wants"
    wants.mkdir()
    (wants / "certbot.timer").write_text("[Timer]\n")
    with pytest.raises(ConfigError) as info:
        install(host, Schedule(EXE))
    line = info.value.one_line()
    assert info.value.exit_code == 3
    assert "certbot.timer" in line
    assert "contend for the lock" in line
    assert "systemctl disable --now certbot.timer" in line
    assert "--force" in line
    assert not host.timer_path.exists()
    assert fake.changes == []
    forced = install(host, Schedule(EXE), force=True)
    assert [c.what for c in forced.conflicts] == ["certbot.timer"]
    assert host.timer_path.exists()


def test_an_active_snap_timer_refuses_the_install(tmp_path: Path) -> None:
    fake = FakeSystemctl(active=["snap.certbot.renew.timer"])
    host = make_host(tmp_path, fake)
    with pytest.raises(ConfigError, match=r"snap stop --disable certbot\.renew"):
        install(host, Schedule(EXE))
    assert ["is-active", "--quiet", "snap.certbot.renew.timer"] in fake.calls


def test_certbots_cron_job_counts_only_where_it_would_run(
    tmp_path: Path, fake: FakeSystemctl
) -> None:
    (tmp_path / "a").mkdir()
    with_systemd = make_host(tmp_path / "a", fake)
    (with_systemd.cron_dir / "certbot").write_text(DEBIAN_CERTBOT_CRON)
    assert find_certbot_renewers(with_systemd) == []  # it skips itself under systemd

    (tmp_path / "b").mkdir()
    without = make_host(tmp_path / "b", fake, systemd=False)
    (without.cron_dir / "certbot").write_text(DEBIAN_CERTBOT_CRON)
    with pytest.raises(ConfigError, match=r"cron\.d/certbot.*comment out"):
        install(without, Schedule(EXE))
    (without.cron_dir / "certbot").write_text("# 0 */12 * * * root certbot -q renew\n")
    assert install(without, Schedule(EXE)).method == "cron"


# --- remove --------------------------------------------------------------------------------


def test_remove_disables_and_deletes_only_our_files(host: Host, fake: FakeSystemctl) -> None:
    install(host, Schedule(EXE))
    host.wants_link.parent.mkdir()
    host.wants_link.symlink_to(host.timer_path)  # what a real `systemctl enable` leaves
    other = host.systemd_dir / "nginx.service"
    other.write_text("[Service]\n")
    fake.calls.clear()
    result = remove(host)
    assert set(result.removed) == {host.wants_link, host.timer_path, host.service_path}
    assert fake.changes == [["disable", "--now", TIMER_NAME], ["daemon-reload"]]
    assert other.exists()
    assert sorted(p.name for p in host.systemd_dir.rglob("*")) == [
        "nginx.service",
        "timers.target.wants",
    ]
    fake.calls.clear()
    again = remove(host)
    assert again.removed == []
    assert fake.calls == []


def test_remove_cron_and_foreign_files(host: Host) -> None:
    install(host, Schedule(EXE), "cron")
    assert remove(host).removed == [host.cron_path]
    host.cron_path.write_text("0 * * * * root my-own-job\n")
    kept = remove(host)
    assert kept.removed == []
    assert host.cron_path.exists()
    assert any("not written by certbot-like" in note for note in kept.notes)
    assert remove(host, force=True).removed == [host.cron_path]


# --- status --------------------------------------------------------------------------------


def test_status_when_nothing_is_installed(host: Host) -> None:
    report = status(host)
    assert not report.installed
    assert report.to_json() == {
        "installed": False,
        "methods": [],
        "files": [],
        "systemd": None,
        "cron": None,
        "conflicts": [],
    }


def test_status_of_the_systemd_timer(host: Host) -> None:
    install(host, Schedule(EXE, interval_hours=6))
    report = status(host)
    assert report.methods == ["systemd"]
    assert report.files == [host.service_path, host.timer_path]
    assert report.systemd is not None
    assert report.systemd["on_calendar"] == "*-*-* 00/6:00:00"
    assert report.systemd["randomized_delay"] == "30min"
    assert report.systemd["persistent"] == "true"
    assert report.systemd["exec_start"] == f"{EXE} renew -q --no-random-sleep-on-renew"
    assert report.systemd["next_run"] == "Thu 2026-11-26 00:41:07 UTC"
    assert report.systemd["last_run"] == "n/a"
    assert report.systemd["unit_file_state"] == "enabled"
    assert report.list_timers is not None and "certbot-like-renew.timer" in report.list_timers
    json.dumps(report.to_json())


def test_status_of_the_cron_job(tmp_path: Path, fake: FakeSystemctl) -> None:
    host = make_host(tmp_path, fake, systemd=False)
    install(host, Schedule(EXE, interval_hours=24))
    report = status(host)
    assert report.methods == ["cron"]
    assert report.cron == {
        "times": "0 0 * * *",
        "user": "root",
        "command": "test -d /run/systemd/system && systemctl -q is-active "
        f"{TIMER_NAME} || {EXE} renew -q",
    }
    assert report.systemd is None


# --- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CERTBOT_LIKE_* variables from the outer shell, and an empty cli.ini."""
    for name in list(os.environ):
        if name.startswith("CERTBOT_LIKE_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "empty-cli.ini"
    empty.write_text("")
    monkeypatch.setenv("CERTBOT_LIKE_CONFIG_FILE", str(empty))
    return empty


def cli_args(host: Host, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--systemd-dir",
        str(host.systemd_dir),
        "--cron-dir",
        str(host.cron_dir),
        "--logs-dir",
        str(tmp_path / "logs"),
        *extra,
    ]


def test_cli_install_status_remove(
    host: Host, fake: FakeSystemctl, tmp_path: Path, clean_environment: Path
) -> None:
    args = cli_args(host, tmp_path, "--interval", "6")
    done = invoke_cli(cli, ["schedule", "install", *args], obj=host)
    assert done.exit_code == 0, done.output
    assert f"Wrote {host.timer_path}" in done.output
    assert "runs every 6 hours by the systemd timer" in done.output
    service = host.service_path.read_text()
    assert (
        f"ExecStart={EXE} renew -q --no-random-sleep-on-renew --config {clean_environment} "
        f"--logs-dir {tmp_path / 'logs'}"
    ) in service.splitlines()
    assert "RandomizedDelaySec=30min" in host.timer_path.read_text()

    again = invoke_cli(cli, ["schedule", "install", *args], obj=host)
    assert again.exit_code == 0
    assert "Already installed" in again.output

    shown = invoke_cli(cli, ["schedule", "status", *args, "--json"], obj=host)
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["methods"] == ["systemd"]
    assert doc["systemd"]["on_calendar"] == "*-*-* 00/6:00:00"
    text = invoke_cli(cli, ["schedule", "status", *args], obj=host)
    assert "OnCalendar=*-*-* 00/6:00:00" in text.output
    assert "1 timers listed." in text.output  # systemctl list-timers, verbatim

    gone = invoke_cli(cli, ["schedule", "remove", *args, "--json"], obj=host)
    assert gone.exit_code == 0, gone.output
    assert set(json.loads(gone.stdout)["removed"]) == {
        str(host.service_path),
        str(host.timer_path),
    }
    nothing = invoke_cli(cli, ["schedule", "remove", *args], obj=host)
    assert "nothing to remove" in nothing.output


def test_cli_options_before_the_command_and_cron_method(
    host: Host, tmp_path: Path, clean_environment: Path
) -> None:
    result = invoke_cli(
        cli, ["-q", "schedule", "install", "--method", "cron", *cli_args(host, tmp_path)], obj=host
    )
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert "0 */12 * * * root" in host.cron_path.read_text()


def test_cli_dry_run_prints_and_writes_nothing(
    host: Host, tmp_path: Path, clean_environment: Path
) -> None:
    result = invoke_cli(
        cli, ["schedule", "install", "--dry-run", *cli_args(host, tmp_path)], obj=host
    )
    assert result.exit_code == 0, result.output
    assert "OnCalendar=*-*-* 00,12:00:00" in result.output
    assert not host.timer_path.exists()


def test_cli_bad_interval_is_a_usage_error(
    host: Host, tmp_path: Path, clean_environment: Path
) -> None:
    result = invoke_cli(
        cli, ["schedule", "install", "--interval", "5", *cli_args(host, tmp_path)], obj=host
    )
    assert isinstance(result.exception, UsageError)
    assert result.exception.exit_code == 2


def test_main_refuses_next_to_certbots_cron_with_exit_3(
    tmp_path: Path, clean_environment: Path
) -> None:
    cron_dir = tmp_path / "cron.d"
    cron_dir.mkdir()
    (cron_dir / "certbot").write_text("0 */12 * * * root certbot -q renew\n")
    result = run_main(
        [
            "schedule",
            "install",
            "--method",
            "cron",
            "--cron-dir",
            str(cron_dir),
            "--systemd-dir",
            str(tmp_path / "nonexistent"),
            "--logs-dir",
            str(tmp_path / "logs"),
        ]
    )
    assert result.returncode == 3, result
    err = result.stderr
    assert err.count("\n") == 1
    assert err.startswith("Error: certbot's own renewal is active")
    assert not (cron_dir / CRON_NAME).exists()
