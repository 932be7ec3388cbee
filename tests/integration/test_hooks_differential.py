"""Hooks, differentially: the same scenarios run by certbot 5.8 and by certbot-like, with hook
scripts that log their order and environment; the two logs must match line by line, and so
must the exit codes.

certbot-like renews with ``--jobs 1`` here: with more workers the lineages' own sequences
(pre-hook, renewal, deploy hooks) interleave, which is the point of ``--jobs``. The probe logs
for each stage only the variables certbot defines for it (certbot also leaks a deploy hook's
``RENEWED_*`` into later hooks through its own environment; certbot-like does not, see
docs/renewal.md).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.servers import Pebble
from tests.integration.conftest import Client, unique_name
from tests.integration.test_certbot_compat import certbot_bin  # noqa: F401  (fixture)

PROBE = """#!/bin/sh
stage="$1"
case "$stage" in
  *deploy*) line="$stage domains=[$RENEWED_DOMAINS] lineage=[$RENEWED_LINEAGE]" ;;
  *post*) line="$stage domains=[$RENEWED_DOMAINS] failed=[$FAILED_DOMAINS]" ;;
  *) line="$stage" ;;
esac
echo "$line" >> "$HOOK_LOG"
exit "${2:-0}"
"""


@pytest.fixture(scope="module", name="pebble")
def steady_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """Pebble without its random nonce rejections: certbot retries a rejected nonce only
    once, and a run that fails by chance would make the two logs differ for no reason."""
    server = Pebble(
        tmp_path_factory.mktemp("pebble-hooks"), env={"PEBBLE_WFE_NONCEREJECT": "0"}
    ).start()
    yield server
    server.stop()


@dataclass
class Side:
    """One client (certbot or certbot-like) with its own config dir and hook log."""

    label: str
    root: Path
    client: Client
    certbot: Path | None = None

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def log(self) -> Path:
        return self.root / "hooks.log"

    @property
    def probe(self) -> Path:
        return self.root / "probe"

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.probe.write_text(PROBE)
        self.probe.chmod(0o755)

    def dir_hooks(self) -> None:
        """Two executables in each of renewal-hooks/{pre,deploy,post}/, written in reverse."""
        for stage in ("pre", "deploy", "post"):
            where = self.config_dir / "renewal-hooks" / stage
            where.mkdir(parents=True, exist_ok=True)
            for index in ("20", "10"):
                script = where / f"{index}-probe"
                script.write_text(f"#!/bin/sh\nexec {self.probe} dir-{stage}-{index}\n")
                script.chmod(0o755)

    def hook(self, stage: str, code: int = 0) -> str:
        return f"{self.probe} {stage} {code}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        pebble = self.client.pebble
        common = [
            "--config-dir",
            str(self.config_dir),
            "--work-dir",
            str(self.root / "work"),
            "--logs-dir",
            str(self.root / "logs"),
            "--server",
            pebble.directory_url,
            "-n",
        ]
        env = {**os.environ, "HOOK_LOG": str(self.log)}
        if self.certbot is not None:
            env["REQUESTS_CA_BUNDLE"] = str(pebble.ca_bundle)
            cmd = [str(self.certbot), *args, *common]
            return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
        result = self.client.run_raw(
            [*args, *common, "--ca-bundle", str(pebble.ca_bundle)], env=env, timeout=180
        )
        return subprocess.CompletedProcess(
            result.args, result.returncode, result.stdout, result.stderr
        )

    def obtain(self, *names: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        pebble = self.client.pebble
        return self.run(
            "certonly",
            "--standalone",
            "--http-01-port",
            str(pebble.http_port),
            "--http-01-address",
            "127.0.0.1",
            "--agree-tos",
            "--register-unsafely-without-email",
            *(a for n in names for a in ("-d", n)),
            *extra,
        )

    def lines(self) -> list[str]:
        text = self.log.read_text() if self.log.exists() else ""
        return text.replace(str(self.config_dir), "CONFIG").splitlines()


@pytest.fixture
def sides(client: Client, tmp_path: Path, certbot_bin: Path) -> tuple[Side, Side]:  # noqa: F811
    theirs = Side("certbot", tmp_path / "certbot", client, certbot_bin)
    ours = Side("certbot-like", tmp_path / "ours", client)
    for side in (theirs, ours):
        side.setup()
    return theirs, ours


def _same(
    theirs: Side,
    ours: Side,
    a: subprocess.CompletedProcess[str],
    b: subprocess.CompletedProcess[str],
) -> list[str]:
    assert a.returncode == b.returncode, (a.stdout + a.stderr, b.stdout + b.stderr)
    assert ours.lines() == theirs.lines(), (theirs.lines(), ours.lines())
    return ours.lines()


def test_certonly_runs_directory_hooks_first_and_a_named_directory_hook_once(
    sides: tuple[Side, Side], pebble: Pebble
) -> None:
    theirs, ours = sides
    name = unique_name("dh")
    results = []
    for side in sides:
        side.dir_hooks()
        named = side.config_dir / "renewal-hooks" / "pre" / "10-probe"
        results.append(
            side.obtain(
                name,
                extra=(
                    "--pre-hook",
                    str(named),
                    "--post-hook",
                    side.hook("post-flag"),
                    "--deploy-hook",
                    side.hook("deploy-flag"),
                ),
            )
        )
    lines = _same(theirs, ours, *results)
    assert results[0].returncode == 0
    assert lines[:2] == ["dir-pre-10", "dir-pre-20"], "10-probe ran once, as the directory's"
    assert lines[2] == f"dir-deploy-10 domains=[{name}] lineage=[CONFIG/live/{name}]"
    assert lines[-1] == f"post-flag domains=[{name}] failed=[]"


def test_failing_hooks_are_reported_and_the_certificate_still_obtained(
    sides: tuple[Side, Side],
) -> None:
    theirs, ours = sides
    name = unique_name("fail")
    results = [
        side.obtain(
            name,
            extra=(
                "--pre-hook",
                side.hook("pre-fail", 3),
                "--deploy-hook",
                side.hook("deploy-fail", 4),
                "--post-hook",
                side.hook("post-fail", 5),
            ),
        )
        for side in sides
    ]
    lines = _same(theirs, ours, *results)
    assert results[1].returncode == 0 and lines[0] == "pre-fail"
    for side in sides:
        assert (side.config_dir / "live" / name / "cert.pem").exists()


def test_renew_runs_each_lineages_pre_hook_before_it_and_post_hooks_once_at_the_end(
    sides: tuple[Side, Side],
) -> None:
    theirs, ours = sides
    a, b = sorted((unique_name("ra"), unique_name("rb")))
    for side in sides:
        for name in (a, b):
            made = side.obtain(
                name,
                extra=(
                    "--pre-hook",
                    side.hook(f"pre-{name}"),
                    "--post-hook",
                    side.hook("post-shared"),
                    "--deploy-hook",
                    side.hook("deploy-flag"),
                ),
            )
            assert made.returncode == 0, made.stdout + made.stderr
        side.dir_hooks()
        side.log.unlink()
    renewals = [
        side.run(
            "renew",
            "--force-renewal",
            "--no-random-sleep-on-renew",
            *(("--jobs", "1") if side.certbot is None else ()),
        )
        for side in sides
    ]
    lines = _same(theirs, ours, *renewals)
    assert lines.index(f"pre-{a}") < lines.index(f"pre-{b}")
    assert (
        lines.count("dir-pre-10") == 1
        and lines.count("post-shared domains=[" + f"{a} {b}] failed=[]") == 1
    )


def test_a_dry_run_renew_skips_deploy_hooks_unless_asked(sides: tuple[Side, Side]) -> None:
    theirs, ours = sides
    name = unique_name("dry")
    for side in sides:
        made = side.obtain(name, extra=("--deploy-hook", side.hook("deploy-flag")))
        assert made.returncode == 0, made.stdout + made.stderr
        side.dir_hooks()
        side.log.unlink()
    plain = [side.run("renew", "--dry-run", "--no-random-sleep-on-renew") for side in sides]
    assert not any("deploy" in line for line in _same(theirs, ours, *plain))
    for side in sides:
        side.log.unlink()
    asked = [
        side.run("renew", "--dry-run", "--run-deploy-hooks", "--no-random-sleep-on-renew")
        for side in sides
    ]
    assert any(line.startswith("deploy-flag") for line in _same(theirs, ours, *asked))
