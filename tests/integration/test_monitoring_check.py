"""End to end: `certbot-like check` (a Nagios/Icinga plugin) and `certbot-like metrics`
on lineages that are fine, expiring, past their renewal moment, failing, mismatched and
broken; the metrics file checked by promtool and parsed back by prometheus_client."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certbot_like.storage.layout import Layout
from tests.harness.clirun import Result, run_cli
from tests.harness.lineages import LocalIssuer, make_lineages

PARAMS = {"authenticator": "standalone", "server": "https://127.0.0.1:9/dir", "account": "x"}


def cli(root: Path, command: str, *args: str) -> Result:
    dirs = ["--config-dir", str(root / "config"), "--work-dir", str(root / "work")]
    return run_cli([command, *dirs, "--logs-dir", str(root / "logs"), "-n", *args])


def layout(root: Path) -> Layout:
    return Layout(root / "config", root / "work", root / "logs")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One config directory holding one lineage of each kind."""
    root = tmp_path_factory.mktemp("zoo")
    where = layout(root)
    issuer = LocalIssuer()
    make_lineages(where, ["fine.test"], PARAMS, issuer=issuer)
    make_lineages(where, ["short.test"], PARAMS, days=6, age=1, issuer=issuer)
    make_lineages(where, ["past.test"], PARAMS, age=70, issuer=issuer)  # due 10 days ago
    make_lineages(where, ["expiring.test"], PARAMS, age=86, issuer=issuer)  # 4 days left
    make_lineages(where, ["failing.test"], PARAMS, issuer=issuer)
    make_lineages(where, ["mismatched.test"], PARAMS, issuer=issuer)
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (root / "config/archive/mismatched.test/privkey1.pem").write_bytes(other)
    make_lineages(where, ["broken.test"], PARAMS, issuer=issuer)
    (root / "config/live/broken.test/cert.pem").unlink()
    make_lineages(where, ["badchain.test"], PARAMS, issuer=issuer)
    chain = root / "config/archive/badchain.test"
    stranger = LocalIssuer().chain_pem
    (chain / "chain1.pem").write_bytes(stranger)
    (chain / "fullchain1.pem").write_bytes((chain / "cert1.pem").read_bytes() + stranger)
    webroot = {**PARAMS, "authenticator": "webroot", "webroot_map": {"other.test": "/srv"}}
    make_lineages(where, ["names.test"], webroot, issuer=issuer)
    # a real failed attempt: the renewal conf names an account that does not exist
    failed = cli(root, "renew", "--no-random-sleep-on-renew", "--force-renewal",
                 "--cert-name", "failing.test")  # fmt: skip
    assert failed.returncode != 0 and "failing.test" in failed.stderr, failed
    return root


@pytest.mark.parametrize(
    ("name", "code", "finding"),
    [
        ("fine.test", 0, None),
        ("short.test", 0, None),
        ("past.test", 1, "past its renewal moment"),
        ("expiring.test", 2, "expires in 4.0 days"),
        ("failing.test", 1, "the last renewal attempt failed: No account is registered"),
        ("mismatched.test", 2, "private key does not match the certificate"),
        ("broken.test", 2, "cannot be read: "),
        ("badchain.test", 2, "the chain does not verify"),
        ("names.test", 1, "names differ from the renewal conf: no webroot for names.test"),
    ],
)
def test_check_judges_each_kind_of_lineage(
    zoo: Path, name: str, code: int, finding: str | None
) -> None:
    result = cli(zoo, "check", "--cert-name", name)
    state = ["OK", "WARNING", "CRITICAL"][code]
    assert result.returncode == code, result
    first, *rest = result.stdout.splitlines()
    assert first.startswith(f"CERTBOT-LIKE {state} - "), first
    assert " | lineages=1;;;0 " in first
    if finding is None:
        assert rest == []
    else:
        assert len(rest) == 1 and rest[0].startswith(f"{state}: {name}: "), rest
        assert finding in rest[0]


def test_check_over_all_lineages_lists_every_problem_worst_first(zoo: Path) -> None:
    result = cli(zoo, "check")
    assert result.returncode == 2, result
    first, *rest = result.stdout.splitlines()
    assert first.startswith("CERTBOT-LIKE CRITICAL - 7 of 9 lineage(s) need attention")
    assert "ok=2;;;0 warning=3;;;0 critical=4;;;0" in first
    assert [line.split(":")[0] for line in rest] == ["CRITICAL"] * 4 + ["WARNING"] * 3
    assert not any(line.split(": ")[1] in ("fine.test", "short.test") for line in rest)


def test_a_six_day_certificate_is_judged_on_its_own_scale(tmp_path: Path) -> None:
    make_lineages(layout(tmp_path), ["six.test"], PARAMS, days=6, age=5.5)  # 12 h left
    result = cli(tmp_path, "check")
    assert result.returncode == 2, result
    assert "CRITICAL: six.test: expires in 12" in result.stdout


def test_absolute_thresholds_replace_the_scaled_ones(zoo: Path) -> None:
    # fine.test has ~90 days left: under 100 days is a warning, under 95 critical
    warn = cli(zoo, "check", "--cert-name", "fine.test", "--warning-days", "100")
    assert warn.returncode == 1, warn
    crit = cli(zoo, "check", "--cert-name", "fine.test", "--warning-days", "100",
               "--critical-days", "95")  # fmt: skip
    assert crit.returncode == 2 and "CRITICAL: fine.test: expires in" in crit.stdout


def test_unknown_lineage_bad_flag_and_unreadable_directory_are_unknown(
    zoo: Path, tmp_path: Path
) -> None:
    missing = cli(zoo, "check", "--cert-name", "fine.test", "--cert-name", "nope.test")
    assert missing.returncode == 3, missing
    assert missing.stdout.splitlines()[-1] == "UNKNOWN: nope.test: no such lineage"
    bad = cli(zoo, "check", "--warning-days", "soon")
    assert bad.returncode == 3 and "soon" in bad.stderr, bad
    empty = cli(tmp_path, "check")
    assert empty.returncode == 3 and empty.stdout.startswith("CERTBOT-LIKE UNKNOWN - no "), empty
    renewal = tmp_path / "config" / "renewal"
    renewal.parent.mkdir(exist_ok=True)
    renewal.write_text("a file, not a directory: it cannot be listed")
    result = cli(tmp_path, "check")
    assert result.returncode == 3, result
    assert result.stdout.startswith("CERTBOT-LIKE UNKNOWN - Cannot list"), result


def test_check_json_names_the_state_and_findings(zoo: Path) -> None:
    result = cli(zoo, "check", "--json", "--cert-name", "failing.test")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["state"] == "WARNING" and doc["exit_code"] == 1
    (lineage,) = doc["lineages"]
    assert lineage["last_attempt_failed"] is True and lineage["failures"] == 1


def test_metrics_pass_promtool_and_parse_back(zoo: Path, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    out = tmp_path / "certbot-like.prom"
    result = cli(zoo, "metrics", "--output", str(out))
    assert result.returncode == 0 and result.stdout == "", result
    text = out.read_text()
    assert out.stat().st_mode & 0o777 == 0o644
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (lineages,) = families["certbot_like_lineages"].samples
    assert lineages.value == 9
    failures = {
        s.labels["lineage"]: s.value for s in families["certbot_like_renewal_failures"].samples
    }
    assert failures["failing.test"] == 1 and failures["fine.test"] == 0
    failed = {
        s.labels["lineage"]: s.value
        for s in families["certbot_like_renewal_last_attempt_failed"].samples
    }
    assert failed["failing.test"] == 1 and failed["past.test"] == 0
    expiry = {
        s.labels["lineage"]: s.value
        for s in families["certbot_like_certificate_expiration_timestamp_seconds"].samples
    }
    renew_at = {
        s.labels["lineage"]: s.value
        for s in families["certbot_like_certificate_renewal_timestamp_seconds"].samples
    }
    # the lifetime rule: a third of a 90-day lifetime before expiry
    assert expiry["fine.test"] - renew_at["fine.test"] == pytest.approx(30 * 86400, abs=1)
    assert "broken.test" not in expiry  # nothing known: no sample rather than a made-up one
    stdout = cli(zoo, "metrics")
    assert stdout.returncode == 0 and "certbot_like_lineages 9" in stdout.stdout


def test_cli_ini_metrics_file_and_notify_apply_to_every_renew(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    make_lineages(layout(tmp_path), ["fine.test"], PARAMS)
    prom = tmp_path / "textfile" / "certbot-like.prom"
    prom.parent.mkdir()
    ini = tmp_path / "cli.ini"
    ini.write_text(
        f"metrics-file = {prom}\nnotify = json://127.0.0.1:9/never-listening\n"
        "notify-on = always\n"
    )
    result = cli(tmp_path, "renew", "-c", str(ini), "--no-random-sleep-on-renew")
    assert result.returncode == 0, result
    assert "notify URL #1 (json://...): the notification could not be sent" in result.stderr
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    (code,) = families["certbot_like_run_last_exit_code"].samples
    (started,) = families["certbot_like_run_last_timestamp_seconds"].samples
    assert code.value == 0 and started.value > 1.7e9
    assert [p.name for p in prom.parent.iterdir()] == ["certbot-like.prom"], "no temp file left"


def test_apprise_is_imported_only_when_a_message_is_sent(tmp_path: Path) -> None:
    import sys

    make_lineages(layout(tmp_path), ["fine.test"], PARAMS)
    probe = (
        "import atexit, sys; atexit.register(lambda: print('apprise loaded:', "
        "'apprise' in sys.modules, file=sys.stderr)); "
        "from certbot_like.cli.main import main; main()"
    )
    launcher = [sys.executable, "-c", probe]
    dirs = ["--config-dir", str(tmp_path / "config"), "--work-dir", str(tmp_path / "work"),
            "--logs-dir", str(tmp_path / "logs"), "--no-random-sleep-on-renew"]  # fmt: skip
    hook = ["--notify", "json://127.0.0.1:9/x"]
    quiet = run_cli(["renew", *dirs, *hook], launcher=launcher)
    assert quiet.returncode == 0 and "apprise loaded: False" in quiet.stderr, quiet
    sent = run_cli(["renew", *dirs, *hook, "--notify-on", "always"], launcher=launcher)
    assert sent.returncode == 0 and "apprise loaded: True" in sent.stderr, sent
