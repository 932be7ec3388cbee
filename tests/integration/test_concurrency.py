"""Runs at once on one config directory (docs/security.md, invariant 7).

Two ``renew`` runs and an ``obtain`` started together: one of them works, the others exit
at once with code 8 and one line; nothing is written twice or interleaved, and no lineage
gets more than one new version. A lock left by a killed run (its hook child still alive)
does not block the next run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_conf import read_renewal_conf
from tests.harness.clirun import CliProcess
from tests.harness.lineages import account_id, make_lineages
from tests.harness.servers import Pebble, wait_until
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, Result, unique_name

RENEW = ["--no-random-sleep-on-renew"]


def standalone_params(client: Client) -> dict[str, object]:
    return {
        "account": account_id(client.config_dir),
        "server": client.pebble.directory_url,
        "authenticator": "standalone",
        "key_type": "ecdsa",
        "ca_bundle": str(client.pebble.ca_bundle),
        "http01_port": client.pebble.http_port,
        "http01_address": "127.0.0.1",
    }


def due_lineages(client: Client, count: int, prefix: str) -> list[str]:
    """*count* lineages issued 80 of 90 days ago by a local CA: due, renewable at Pebble."""
    result = client.run("register")
    assert result.returncode == 0, result
    names = [unique_name(prefix) for _ in range(count)]
    layout = Layout(client.config_dir, client.work_dir, client.logs_dir)
    make_lineages(layout, names, standalone_params(client), age=80)
    return names


def versions(client: Client, name: str) -> list[str]:
    return sorted(p.name for p in (client.config_dir / "archive" / name).glob("cert*.pem"))


@dataclass
class Run:
    """One process started with the others, and when it ended."""

    cli: CliProcess
    started: float
    elapsed: float | None = None
    result: Result | None = None

    @property
    def proc(self) -> subprocess.Popen[str]:
        return self.cli.proc


def start(client: Client, command: str, *args: str) -> Run:
    return Run(client.start(command, *args), time.monotonic())


def finish(runs: list[Run], timeout: float = 120) -> None:
    """Wait for all, noting each one's own elapsed time; each is scanned for secrets."""
    deadline = time.monotonic() + timeout
    while any(r.elapsed is None for r in runs):
        assert time.monotonic() < deadline, "a run did not finish"
        for run in runs:
            if run.elapsed is None and run.proc.poll() is not None:
                run.elapsed = time.monotonic() - run.started
        time.sleep(0.01)
    for run in runs:
        run.result = run.cli.finish()


def test_two_renews_and_an_obtain_at_once_renew_each_lineage_at_most_once(
    client: Client, pebble: Pebble
) -> None:
    names = due_lineages(client, 5, "race")
    # The winner holds the lock for at least a second (its pre-hook), so the others,
    # started in the same instant, surely meet it.
    hook = ["--pre-hook", "sleep 1"]
    runs = [
        start(client, "renew", *RENEW, *hook, "--json"),
        start(client, "obtain", "-d", names[0], *client.standalone_args(), *hook),
        start(client, "renew", *RENEW, *hook, "--json"),
    ]
    finish(runs)

    codes = [r.proc.returncode for r in runs]
    assert sorted(codes) == [0, 8, 8], [r.result for r in runs]
    for run in runs:
        assert run.result is not None
        if run.proc.returncode == 8:
            assert run.elapsed is not None and run.elapsed < 5, f"the loser took {run.elapsed}"
            lines = run.result.stderr.strip().splitlines()
            assert len(lines) == 1 and "Another certbot" in lines[0], run.result
            assert run.result.stdout == ""
    for name in names:
        assert versions(client, name) in (["cert1.pem"], ["cert1.pem", "cert2.pem"]), name
    if any(code == 0 for code in codes[::2]):  # a renew won: every due lineage is renewed
        for name in names:
            assert versions(client, name) == ["cert1.pem", "cert2.pem"], name

    # whatever the race left due is renewed now, and nothing renewed above is renewed again
    follow = client.run("renew", *RENEW, register=False)
    assert follow.returncode == 0, follow
    for name in names:
        archive = client.config_dir / "archive" / name
        assert sorted(p.name for p in archive.iterdir()) == sorted(
            f"{kind}{n}.pem" for kind in ("cert", "chain", "fullchain", "privkey") for n in (1, 2)
        ), name
        assert_lineage(client.live(name), {name}, pebble.root_pem(), version=2)
        conf = read_renewal_conf(client.config_dir / "renewal" / f"{name}.conf")
        assert conf.params.get("authenticator") == "standalone"
    leftovers = [
        str(p)
        for p in client.config_dir.rglob(".*")
        if p.name != ".certbot.lock" and not p.name.startswith(".write-test")
    ]
    assert leftovers == [], "temp files or staging directories were left"


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(
    client: Client, pebble: Pebble, tmp_path: Path
) -> None:
    names = due_lineages(client, 2, "killed")
    pidfile = tmp_path / "hook.pid"
    hook = f"echo $$ > {pidfile}; exec sleep 30"
    run = start(client, "renew", *RENEW, "--force-renewal", "--pre-hook", hook)
    hook_pid: int | None = None
    try:
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20, "the pre-hook")
        hook_pid = int(pidfile.read_text())
        run.proc.send_signal(signal.SIGKILL)  # mid-run, holding the locks
        assert run.cli.finish(timeout=10).returncode == -signal.SIGKILL
        assert (client.config_dir / ".certbot.lock").exists()
        os.kill(hook_pid, 0)  # the hook's process outlived its parent ...

        started = time.monotonic()
        result = client.run("renew", *RENEW, "--json", register=False)  # ... and blocks nothing
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result
        assert sorted(o["name"] for o in json.loads(result.stdout)["renewed"]) == sorted(names)
        assert elapsed < 15, f"the next run took {elapsed:.1f} s"
        for name in names:
            assert_lineage(client.live(name), {name}, pebble.root_pem(), version=2)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
        if hook_pid is not None:
            try:
                os.kill(hook_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
