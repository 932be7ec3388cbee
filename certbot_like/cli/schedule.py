"""``certbot-like schedule install|remove|status``: the automatic renewal timer or cron job."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from certbot_like.cli.command import CompatCommand
from certbot_like.cli.options import F, common_options, json_option, opt
from certbot_like.cli.output import print_json

if TYPE_CHECKING:
    from certbot_like.cli.runtime import Runtime
    from certbot_like.schedule import Actions, InstallResult, Status

SCHEDULE_HELP = """Install, remove or show the automatic renewal of certificates.

\b
install  writes certbot-like-renew.service and .timer to --systemd-dir and enables the
         timer (systemd machines), or /etc/cron.d/certbot-like (--method cron); running it
         again changes nothing, and switches methods cleanly
remove   stops and deletes what install wrote (only files certbot-like wrote)
status   shows what is installed, its files, its schedule and the timer's next run

\b
Twice a day (at 00:00 and 12:00 plus a random delay of up to an hour) is enough for
90-day certificates; for short-lived (6-day) certificates use --interval 6 or less.
The --config-dir, --work-dir, --logs-dir, -c/--config and --no-directory-hooks given here
are passed on to renew.
--dry-run with install prints the files instead of writing them. See docs/renewal.md."""


def schedule_options(func: F) -> F:
    decorators = [
        opt(
            "--method",
            type=click.Choice(["systemd", "cron"]),
            help="install: a systemd timer or a cron job [default: systemd when systemd is "
            "running, otherwise cron].",
        ),
        opt(
            "--interval",
            "interval",
            type=int,
            default=12,
            metavar="HOURS",
            help="install: hours between runs: 1, 2, 3, 4, 6, 8, 12 or 24.",
        ),
        opt(
            "--systemd-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("/etc/systemd/system"),
            help="Where the unit files go.",
        ),
        opt(
            "--cron-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("/etc/cron.d"),
            help="Where the cron file goes.",
        ),
        opt(
            "--no-enable",
            is_flag=True,
            help="install: write the unit files but do not run systemctl.",
        ),
        opt(
            "--force",
            is_flag=True,
            help="install even though certbot's own renewal timer or cron job is active, and "
            "replace or remove files of our names that certbot-like did not write.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.command(
    "schedule",
    cls=CompatCommand,
    help=SCHEDULE_HELP,
    short_help="Install, remove or show the renewal timer.",
)
@click.argument("action", type=click.Choice(["install", "remove", "status"]))
@common_options
@schedule_options
@json_option
@click.pass_context
def schedule_cmd(ctx: click.Context, /, action: str, **kw: Any) -> None:
    """Run *action*; the machine is reached through the :class:`~certbot_like.schedule.Host`
    in ``ctx.obj`` when there is one (tests), the real one otherwise.

    Raises:
        UsageError: a bad --interval or method, ``remove --dry-run``, a path cron cannot run.
        ConfigError: certbot's renewal is active, a directory is missing, systemctl failed.
        StorageError: a file could not be written or removed.
    """
    from certbot_like import schedule as sched
    from certbot_like.cli.runtime import build_runtime
    from certbot_like.errors import UsageError

    if action == "remove" and kw.get("dry_run"):
        raise UsageError("--dry-run only previews install", "Run `schedule status` instead")
    runtime = build_runtime(ctx, kw, log=action != "status" and not kw.get("dry_run"))
    host = ctx.find_object(sched.Host) or sched.Host.from_system()
    host = dataclasses.replace(
        host,
        systemd_dir=Path(kw["systemd_dir"]).absolute(),
        cron_dir=Path(kw["cron_dir"]).absolute(),
    )
    as_json = bool(kw.get("as_json"))
    if action == "status":
        _print_status(runtime, sched.status(host), as_json)
        return
    if action == "remove":
        removed = sched.remove(host, force=bool(kw.get("force")))
        if as_json:
            print_json(removed.to_json())
            return
        _print_actions(runtime, removed)
        if not removed.removed:
            runtime.echo("Automatic renewal was not installed; nothing to remove.")
        return
    schedule = sched.Schedule(
        executable=host.executable or sched.find_executable(),
        interval_hours=sched.check_interval(int(kw["interval"])),
        renew_args=sched.renew_arguments(
            runtime.settings.layout,
            kw.get("config_file"),
            no_directory_hooks=bool(kw.get("no_directory_hooks")),
        ),
    )
    if kw.get("dry_run"):
        method = sched.choose_method(host, kw.get("method"))
        directory = host.systemd_dir if method == "systemd" else host.cron_dir
        texts = {str(directory / n): t for n, t in sched.render(schedule, method).items()}
        if as_json:
            print_json({"method": method, "files": texts})
            return
        for path, text in texts.items():
            click.echo(f"# --- {path} (not written: --dry-run)\n{text}")
        return
    result = sched.install(
        host,
        schedule,
        kw.get("method"),
        enable=not kw.get("no_enable"),
        force=bool(kw.get("force")),
    )
    if as_json:
        print_json(result.to_json())
        return
    _print_install(runtime, result)


def _print_actions(runtime: Runtime, actions: Actions) -> None:
    for path in actions.removed:
        runtime.echo(f"Removed {path}")
    for command in actions.commands:
        runtime.echo(f"Ran {' '.join(command)}")
    for note in actions.notes:
        runtime.echo(f"Note: {note}", err=True)


def _print_install(runtime: Runtime, result: InstallResult) -> None:
    for conflict in result.conflicts:
        runtime.echo(
            f"Warning: certbot's own renewal ({conflict.what}) is active too (--force); "
            f"switch it off with `{conflict.disable}`",
            err=True,
        )
    for path in result.written:
        runtime.echo(f"Wrote {path}")
    _print_actions(runtime, result)
    schedule = result.schedule
    if result.method == "systemd":
        how = (
            f"by the systemd timer certbot-like-renew.timer (OnCalendar={schedule.on_calendar}, "
            f"RandomizedDelaySec={schedule.randomized_delay}, Persistent=true)"
        )
    else:
        cron_file = (result.written + result.unchanged)[0]
        how = f"by cron ({schedule.cron_times} in {cron_file})"
    if result.already_installed:
        runtime.echo(f"Already installed, no file changed: renew runs {schedule.describe()} {how}.")
    else:
        runtime.echo(f"certbot-like renew now runs {schedule.describe()} {how}.")


def _print_status(runtime: Runtime, status: Status, as_json: bool) -> None:
    if as_json:
        print_json(status.to_json())
        return
    if not status.installed:
        runtime.echo(
            "Automatic renewal is not installed; `certbot-like schedule install` sets it up."
        )
    if status.systemd is not None:
        info = status.systemd
        runtime.echo("Installed: systemd timer certbot-like-renew.timer")
        runtime.echo(
            f"  Schedule:  OnCalendar={info['on_calendar']}, "
            f"RandomizedDelaySec={info['randomized_delay']}, Persistent={info['persistent']}"
        )
        runtime.echo(f"  Runs:      {info['exec_start']}")
        if "unit_file_state" in info:
            runtime.echo(f"  Timer:     {info['unit_file_state']}, {info['active_state']}")
    if status.cron is not None:
        info = status.cron
        runtime.echo("Installed: cron job")
        runtime.echo(f"  Schedule:  {info['times']} (as {info['user']})")
        runtime.echo(f"  Runs:      {info['command']}")
    if status.files:
        runtime.echo("Files:")
        for path in status.files:
            runtime.echo(f"  {path}")
    if status.list_timers:
        runtime.echo(status.list_timers)
    for conflict in status.conflicts:
        runtime.echo(
            f"Warning: certbot's own renewal ({conflict.what}) is active; two renewers only "
            f"contend for the lock: `{conflict.disable}`",
            err=True,
        )
