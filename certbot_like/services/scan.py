"""The fast scan behind ``renew``: which lineages exist and when each is due.

For each ``renewal/*.conf`` it costs a ``stat`` of the conf, a ``readlink`` of ``cert.pem``
and a ``stat`` of the certificate. Only when one of them changed since the last run are the
conf (configobj) and the certificate (cryptography) parsed again, so a no-op run over
thousands of lineages imports neither library.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from certbot_like.errors import CertbotLikeError
from certbot_like.services.renewal_state import LineageState, RenewalState, signature
from certbot_like.storage.layout import Layout

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ScanEntry:
    """One lineage as the scan sees it: its state, or why it is broken."""

    name: str
    conf_file: str  # a str, not a Path: 10,000 Path objects cost megabytes
    state: LineageState
    problem: str | None = None
    refreshed: bool = False

    @property
    def conf_path(self) -> Path:
        return Path(self.conf_file)


def _refresh_conf(entry: ScanEntry, st: os.stat_result) -> None:
    from certbot_like.storage.renewal_conf import read_renewal_conf

    conf = read_renewal_conf(entry.conf_path)
    state = entry.state
    state.conf_sig = signature(st)
    state.cert_path = str(conf.live["cert"])
    server = conf.get_str("server")
    state.server = sys.intern(server) if server else None  # one copy for all lineages
    before = conf.get_str("renew_before_expiry")
    state.renew_before_expiry = sys.intern(before) if before else None
    state.cert_sig = None  # force a re-read of the certificate facts


def _refresh_cert(entry: ScanEntry, target: Path, st: os.stat_result) -> None:
    from cryptography import x509

    from certbot_like.crypto.certs import PARSE_ERRORS, cert_identifiers
    from certbot_like.protocol.ari import ari_cert_id

    try:
        cert = x509.load_pem_x509_certificate(target.read_bytes())
        names = [i.value for i in cert_identifiers(cert)]
        cert_id = ari_cert_id(cert)
    except PARSE_ERRORS:
        raise ValueError("unreadable certificate") from None
    state = entry.state
    state.cert_sig = signature(st)
    state.names = names
    state.not_before = cert.not_valid_before_utc.timestamp()
    state.not_after = cert.not_valid_after_utc.timestamp()
    state.serial = format(cert.serial_number, "x")
    state.cert_id = cert_id


def scan_one(layout: Layout, conf_path: Path | str, state: LineageState) -> ScanEntry:
    """Bring one lineage's cached facts up to date (parsing only what changed)."""
    conf_file = os.fspath(conf_path)
    entry = ScanEntry(os.path.basename(conf_file)[: -len(".conf")], conf_file, state)
    try:
        st = os.stat(conf_file)
        if state.conf_sig is None or tuple(state.conf_sig) != signature(st) or not state.cert_path:
            entry.refreshed = True
            _refresh_conf(entry, st)
        assert state.cert_path is not None
        cert_link = state.cert_path
        target = os.path.join(os.path.dirname(cert_link), os.readlink(cert_link))
        cert_st = os.stat(target)
        if (
            state.cert_sig is None
            or state.cert_target != target
            or tuple(state.cert_sig) != signature(cert_st)
        ):
            entry.refreshed = True
            state.cert_target = target
            _refresh_cert(entry, Path(target), cert_st)
    except CertbotLikeError as exc:
        entry.problem = exc.one_line()
        state.conf_sig = None
    except OSError as exc:
        entry.problem = f"{exc.filename or conf_file}: {exc.strerror or exc}"
        state.conf_sig = None
    except ValueError:
        entry.problem = f"{state.cert_path} is not a readable certificate"
        state.conf_sig = None
    return entry


def scan(layout: Layout, state: RenewalState, only: set[str] | None = None) -> list[ScanEntry]:
    """Every lineage (or those named in *only*), in name order, with fresh facts.

    Raises:
        ConfigError: the renewal directory cannot be listed.
    """
    from certbot_like.errors import ConfigError

    directory = os.fspath(layout.renewal_dir)
    try:
        files = sorted(
            e for e in os.listdir(directory) if e.endswith(".conf") and not e.startswith(".")
        )
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(
            f"Cannot list {directory}: {exc.strerror}", "Check the directory's permissions"
        ) from None
    entries = []
    for file in files:
        name = file[: -len(".conf")]
        path = os.path.join(directory, file)
        if only is not None and name not in only:
            continue
        lineage_state = state.lineages.setdefault(name, LineageState())
        entry = scan_one(layout, path, lineage_state)
        if entry.refreshed or entry.problem:
            state.dirty = True
        entries.append(entry)
    return entries


def lifetime_moment(state: LineageState) -> float | None:
    """When the lineage is due without ARI (POSIX seconds), or None if unknown.

    Raises:
        ConfigError: ``renew_before_expiry`` in the conf is malformed.
    """
    from certbot_like.services.due import renewal_moment

    if state.not_before is None or state.not_after is None:
        return None
    utc = datetime.UTC
    moment = renewal_moment(
        datetime.datetime.fromtimestamp(state.not_before, utc),
        datetime.datetime.fromtimestamp(state.not_after, utc),
        state.renew_before_expiry,
    )
    return moment.timestamp()
