"""Crash consistency: SIGKILL at every save point of a renewal, then the next run converges.

No hook exists in the product for this. The real CLI runs in a child Python process that
first replaces one function at the storage seam with a wrapper calling
``os.kill(os.getpid(), SIGKILL)`` at the chosen moment (docs/security.md, invariant 4):

- after the new key is written (``lineage.write_file`` of ``privkeyN.pem``), or while it is
  being written (``os.write`` on its temp file: half the bytes, then the kill);
- after the four archive files (``fullchain``, the last of them);
- just before and just after ``renameat2(RENAME_EXCHANGE)`` of ``live/<name>``;
- in the per-link fallback (``exchange_paths`` says "not supported"), after the 2nd and
  after the 3rd of the four link renames;
- while the renewal conf is rewritten (half its temp file, or all of it but before the
  rename).

After each kill: every ``live/`` link resolves to a complete file, the live version is not
older than before, the certificate matches the key (in the fallback: the pair nginx reads,
fullchain + privkey, see ADR 0004), and the renewal conf is the old one, untouched. Then an
ordinary run converges to a newer, consistent version; ``certificates`` says it is valid and
no staging directory is left.

A monitor thread reading the live files in a tight loop while renewals swap ``live/`` never
sees a certificate with the wrong key; the same monitor does see one with per-link renames,
which shows it would notice.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certbot_like.crypto.certs import split_pem_certificates
from certbot_like.storage.renewal_conf import read_renewal_conf
from tests.harness.servers import Pebble
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, Result, unique_name

RENEW = ["renew", "--force-renewal", "--no-random-sleep-on-renew"]
KINDS = ("cert", "chain", "fullchain", "privkey")
_VERSIONED = re.compile(r"^\.\./\.\./archive/(?P<name>[^/]+)/(?P<kind>[a-z]+)(?P<n>\d+)\.pem$")

# The child: patch the seam named by the JSON plan in argv[1], then run the real CLI on the
# rest of argv. Every wrapper calls the real function; only the moment of death is chosen.
CHILD = textwrap.dedent(
    """
    import json, os, re, signal, sys, time

    import certbot_like.storage.lineage as lineage

    plan = json.loads(sys.argv[1])

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if "after_write" in plan:
        pattern = re.compile(plan["after_write"])
        real_write_file = lineage.write_file

        def write_file(path, data, *args, **kwargs):
            real_write_file(path, data, *args, **kwargs)
            if pattern.search(str(path)):
                die()

        lineage.write_file = write_file
        real_write_files = lineage.write_files

        def write_files(files):  # one at a time, to die right after the chosen one
            for one in files:
                real_write_files([one])
                if pattern.search(str(one[0])):
                    die()

        lineage.write_files = write_files

    if "half_write" in plan:
        pattern = re.compile(plan["half_write"])
        real_os_write = os.write

        def partial_write(fd, data):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                target = ""
            if pattern.search(target):
                real_os_write(fd, bytes(data[: max(1, len(data) // 2)]))
                die()
            return real_os_write(fd, data)

        os.write = partial_write

    if "before_replace" in plan:
        pattern = re.compile(plan["before_replace"])
        real_replace = os.replace

        def replace(src, dst, **kwargs):
            if pattern.search(os.fsdecode(dst)):
                die()
            return real_replace(src, dst, **kwargs)

        os.replace = replace

    if "exchange" in plan:
        real_exchange = lineage.exchange_paths

        def exchange_paths(a, b):
            if plan["exchange"] == "before":
                die()
            done = real_exchange(a, b)
            if plan["exchange"] == "after":
                die()
            return done

        lineage.exchange_paths = exchange_paths

    if "links" in plan:
        # a file system without RENAME_EXCHANGE: certbot's one rename per link
        lineage.exchange_paths = lambda a, b: False
        real_replace_symlink = lineage.replace_symlink
        done = []

        def replace_symlink(link, target):
            real_replace_symlink(link, target)
            done.append(link)
            if len(done) == plan["links"]:
                die()
            time.sleep(plan.get("pause", 0))

        lineage.replace_symlink = replace_symlink

    from certbot_like.cli.main import main

    main(sys.argv[2:])
    """
)


def run_patched(client: Client, plan: dict[str, Any], command: list[str]) -> Result:
    """Run the real CLI in a child with the seam in *plan* patched (scanned like any run)."""
    launcher = [sys.executable, "-c", CHILD, json.dumps(plan)]
    return client.run(*command, register=False, timeout=60, launcher=launcher)


def spki(data: bytes) -> bytes:
    return (
        serialization.load_pem_private_key(data, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def cert_spki(data: bytes) -> bytes:
    return (
        x509.load_pem_x509_certificate(data)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def link_versions(live: Path) -> dict[str, int]:
    """kind -> the archive version its live link points at (asserting certbot's link form)."""
    out = {}
    for kind in KINDS:
        link = live / f"{kind}.pem"
        assert link.is_symlink(), f"{link} is not a symlink"
        match = _VERSIONED.match(os.readlink(link))
        assert match and match["name"] == live.name and match["kind"] == kind, os.readlink(link)
        out[kind] = int(match["n"])
    return out


def archive_numbers(config_dir: Path, name: str) -> set[int]:
    found = set()
    for path in (config_dir / "archive" / name).iterdir():
        match = re.match(r"^(cert|chain|fullchain|privkey)(\d+)\.pem$", path.name)
        if match:
            found.add(int(match[2]))
    return found


def assert_readable_files(live: Path) -> dict[str, bytes]:
    """Every link resolves to a complete file: the key loads, each PEM block parses whole."""
    data = {kind: (live / f"{kind}.pem").read_bytes() for kind in KINDS}
    spki(data["privkey"])
    for kind in ("cert", "chain", "fullchain"):
        blocks = split_pem_certificates(data[kind], kind)
        for block in blocks:
            x509.load_pem_x509_certificate(block)
    assert len(split_pem_certificates(data["cert"])) == 1
    return data


def assert_consistent(live: Path, at_least: int) -> int:
    """All four links on one version >= *at_least*, and that version is a matching set."""
    versions = link_versions(live)
    assert len(set(versions.values())) == 1, f"links disagree: {versions}"
    version = versions["cert"]
    assert version >= at_least, f"live moved backwards: {version} < {at_least}"
    data = assert_readable_files(live)
    assert cert_spki(data["cert"]) == spki(data["privkey"]), "cert.pem does not match the key"
    assert data["fullchain"] == data["cert"] + data["chain"]
    return version


@dataclass
class Lineage:
    """One lineage issued by Pebble, and what it looked like before the crash."""

    client: Client
    name: str
    version: int = 1
    conf: bytes = b""
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def live(self) -> Path:
        return self.client.live(self.name)

    @property
    def conf_path(self) -> Path:
        return self.client.config_dir / "renewal" / f"{self.name}.conf"

    def snapshot(self) -> None:
        self.version = assert_consistent(self.live, 1)
        self.conf = self.conf_path.read_bytes()
        self.files = {kind: (self.live / f"{kind}.pem").read_bytes() for kind in KINDS}


def new_lineage(client: Client, *names: str) -> Lineage:
    result = client.obtain(*names)
    assert result.returncode == 0, result
    lineage = Lineage(client, names[0])
    lineage.snapshot()
    return lineage


def obtain_command(client: Client, lineage: Lineage) -> list[str]:
    return ["obtain", "-d", lineage.name, *client.standalone_args(), "--force-renewal"]


def staging_dirs(client: Client) -> list[str]:
    return [p.name for p in (client.config_dir / "live").iterdir() if ".new-" in p.name]


def assert_converges(client: Client, pebble: Pebble, lineage: Lineage, command: list[str]) -> None:
    """An ordinary run after the crash: a newer consistent version, valid, no leftovers."""
    highest = max(archive_numbers(client.config_dir, lineage.name))
    result = client.run(*command, register=False)
    assert result.returncode == 0, result
    expected = highest + 1  # past everything the crash left in archive/
    assert_lineage(lineage.live, {lineage.name}, pebble.root_pem(), version=expected)
    assert assert_consistent(lineage.live, lineage.version + 1) == expected
    assert staging_dirs(client) == [], "staging directories of the killed run are left"
    temps = [*(client.config_dir / "archive" / lineage.name).glob(".*.tmp")]
    temps += (client.config_dir / "renewal").glob(".*.tmp")
    assert temps == [], "temp files of the killed run are left"
    conf = read_renewal_conf(lineage.conf_path)
    assert conf.live["cert"] == lineage.live / "cert.pem"
    listing = client.run("certificates", "--json", "--cert-name", lineage.name, register=False)
    assert listing.returncode == 0, listing
    (doc,) = json.loads(listing.stdout)["certificates"]
    assert doc["valid"] is True and doc["problems"] == [], doc
    assert doc["version"] == expected


def assert_killed(result: Result) -> None:
    assert result.returncode == -9, f"the seam was not reached: {result}"


# (plan, command, the live version right after the kill relative to the old one)
CASES = {
    "key-written": ({"after_write": r"/privkey\d+\.pem$"}, "renew", 0),
    "key-half-written": ({"half_write": r"/\.privkey\d+\.pem\.[0-9a-f]+\.tmp$"}, "obtain", 0),
    "archive-written": ({"after_write": r"/fullchain\d+\.pem$"}, "renew", 0),
    "before-exchange": ({"exchange": "before"}, "obtain", 0),
    "after-exchange": ({"exchange": "after"}, "renew", 1),
    "conf-half-written": ({"half_write": r"/renewal/\.[^/]+\.conf\.[0-9a-f]+\.tmp$"}, "renew", 1),
    "conf-before-rename": ({"before_replace": r"/renewal/[^/]+\.conf$"}, "obtain", 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_sigkill_at_a_save_point_leaves_live_consistent_and_the_next_run_converges(
    client: Client, pebble: Pebble, case: str
) -> None:
    plan, how, moved = CASES[case]
    lineage = new_lineage(client, unique_name("crash"))
    command = RENEW if how == "renew" else obtain_command(client, lineage)
    assert_killed(run_patched(client, plan, command))

    version = assert_consistent(lineage.live, lineage.version)
    assert version == lineage.version + moved
    if not moved:
        assert {k: (lineage.live / f"{k}.pem").read_bytes() for k in KINDS} == lineage.files
    assert lineage.conf_path.read_bytes() == lineage.conf, "the renewal conf is written last"
    if case == "key-half-written":
        archive = client.config_dir / "archive" / lineage.name
        assert not (archive / "privkey2.pem").exists(), "a half-written key got its final name"
        (partial,) = archive.glob(".privkey2.pem.*.tmp")  # the kill came mid-write
        assert stat.S_IMODE(partial.stat().st_mode) == 0o600
    if case == "conf-half-written":
        assert list(lineage.conf_path.parent.glob(f".{lineage.name}.conf.*.tmp"))
    if case in ("before-exchange", "after-exchange"):
        assert staging_dirs(client), "the kill came after the staging directory was built"

    assert_converges(
        client, pebble, lineage, RENEW if how == "obtain" else obtain_command(client, lineage)
    )


@pytest.mark.parametrize("links", [2, 3])
def test_sigkill_between_per_link_renames_and_the_next_run_converges(
    client: Client, pebble: Pebble, links: int
) -> None:
    """Without RENAME_EXCHANGE links move one by one (cert, chain, privkey, fullchain).

    ADR 0004 accepts certbot's window for this fallback: after a kill between two renames
    some links are new and some old. Every file reached is still complete and no link moved
    backwards; after the 2nd link nginx's pair (fullchain + privkey) still matches, after
    the 3rd Apache's (cert + privkey) does and nginx's does not.
    """
    lineage = new_lineage(client, unique_name("links"))
    assert_killed(run_patched(client, {"links": links}, RENEW))

    versions = link_versions(lineage.live)
    new = lineage.version + 1
    moved = ["cert", "chain", "privkey", "fullchain"][:links]
    assert versions == {k: new if k in moved else lineage.version for k in KINDS}
    data = assert_readable_files(lineage.live)
    leaf = split_pem_certificates(data["fullchain"])[0]
    if links == 2:  # cert, chain moved: nginx's pair (fullchain + privkey) is still the old one
        assert cert_spki(leaf) == spki(data["privkey"]), "nginx's pair must still match"
    else:  # privkey moved too: cert.pem + privkey.pem match; fullchain.pem is the old one
        assert cert_spki(data["cert"]) == spki(data["privkey"])
    assert lineage.conf_path.read_bytes() == lineage.conf
    listing = client.run("certificates", "--json", "--cert-name", lineage.name, register=False)
    (doc,) = json.loads(listing.stdout)["certificates"]
    assert doc["valid"] is False and "live links point at different versions" in doc["problems"]

    assert_converges(client, pebble, lineage, RENEW)


@pytest.mark.parametrize(
    "plan",
    [{"after_write": r"/privkey1\.pem$"}, {"before_replace": r"/renewal/[^/]+\.conf$"}],
    ids=["key-written", "conf-before-rename"],
)
def test_sigkill_during_a_first_obtain_leaves_an_orphan_the_next_obtain_adopts(
    client: Client, pebble: Pebble, plan: dict[str, Any]
) -> None:
    name = unique_name("orphan")
    command = ["obtain", "-d", name, *client.standalone_args()]
    command += ["--agree-tos", "--register-unsafely-without-email"]
    assert_killed(run_patched(client, plan, command))
    assert not (client.config_dir / "renewal" / f"{name}.conf").exists()
    live = client.live(name)
    if "before_replace" in plan:
        assert assert_consistent(live, 1) == 1, "a new lineage's live/ is complete or absent"
    else:
        assert not live.exists()
    listing = client.run("certificates", "--json", register=False)
    assert json.loads(listing.stdout)["certificates"] == [], "no conf: not a lineage yet"

    result = client.obtain(name)
    assert result.returncode == 0, result
    assert_lineage(live, {name}, pebble.root_pem(), version=2)
    confs = [p.name for p in (client.config_dir / "renewal").iterdir() if p.suffix == ".conf"]
    assert confs == [f"{name}.conf"], "adopted under its own name, not NAME-0001"
    assert staging_dirs(client) == []


# -- a reader during renewals -------------------------------------------------------------------


@dataclass
class Monitor:
    """Reads the four live files in a tight loop, like a server reloading, and checks them.

    A read is trusted only when ``privkey.pem`` gives the same bytes before and after the
    other three (no swap happened in between: versions only move forward and each version
    has its own key); then the certificate must carry that key.
    """

    live: Path
    stop: threading.Event = field(default_factory=threading.Event)
    consistent: int = 0
    torn: int = 0
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    keys_seen: set[bytes] = field(default_factory=set)
    _spki: dict[bytes, bytes] = field(default_factory=dict)

    def _key(self, data: bytes) -> bytes:
        if data not in self._spki:
            self._spki[data] = spki(data)
        return self._spki[data]

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                key1 = (self.live / "privkey.pem").read_bytes()
                cert = (self.live / "cert.pem").read_bytes()
                chain = (self.live / "chain.pem").read_bytes()
                fullchain = (self.live / "fullchain.pem").read_bytes()
                key2 = (self.live / "privkey.pem").read_bytes()
            except OSError as exc:
                self.errors.append(repr(exc))
                continue
            if key1 != key2:
                self.torn += 1
                continue
            self.keys_seen.add(key1)
            leaf = split_pem_certificates(fullchain)[0]
            if cert_spki(cert) != self._key(key1) or cert_spki(leaf) != self._key(key1):
                self.mismatches.append("certificate with another key")
            elif fullchain != cert + chain:
                self.mismatches.append("fullchain is not cert + chain")
            else:
                self.consistent += 1

    def __enter__(self) -> Monitor:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=10)


def test_a_reader_never_sees_a_mismatched_pair_while_live_is_exchanged(
    client: Client, pebble: Pebble
) -> None:
    lineage = new_lineage(client, unique_name("monitor"))
    with Monitor(lineage.live) as monitor:
        for _ in range(4):
            result = client.run(*RENEW, register=False)
            assert result.returncode == 0, result
        time.sleep(0.05)
    assert monitor.errors == []
    assert monitor.mismatches == []
    assert len(monitor.keys_seen) >= 4, "the monitor must have watched the swaps happen"
    assert monitor.consistent > 100
    assert_lineage(lineage.live, {lineage.name}, pebble.root_pem(), version=5)


def test_the_monitor_does_catch_the_per_link_window(client: Client) -> None:
    """Control: with per-link renames (slowed to 0.2 s apart) the same reader sees the
    new certificate with the old key, so its silence above means something."""
    lineage = new_lineage(client, unique_name("control"))
    with Monitor(lineage.live) as monitor:
        result = run_patched(client, {"links": 0, "pause": 0.2}, RENEW)
        assert result.returncode == 0, result
    assert monitor.errors == []
    assert monitor.mismatches, "per-link renames expose a new certificate with the old key"
