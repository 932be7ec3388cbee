"""Reading lineages for people and decisions: names, expiry, key, and what is wrong with them."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from certbot_like.errors import CertbotLikeError, ConfigError
from certbot_like.interfaces import Identifier
from certbot_like.storage.layout import KINDS, Layout
from certbot_like.storage.lineage import link_version
from certbot_like.storage.renewal_conf import RenewalConf, read_renewal_conf


@dataclass
class LineageInfo:
    """A lineage as found on disk; ``problems`` lists what is wrong (empty when healthy)."""

    name: str
    conf: RenewalConf | None
    conf_path: Path
    identifiers: list[Identifier] = field(default_factory=list)
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    key_type: str | None = None
    serial: str | None = None
    issuer: str | None = None
    version: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def live_dir(self) -> Path | None:
        return self.conf.live["cert"].parent if self.conf else None

    def path(self, kind: str) -> Path | None:
        return self.conf.live[kind] if self.conf else None

    @property
    def names(self) -> list[str]:
        return [i.value for i in self.identifiers]

    def days_left(self, now: datetime.datetime | None = None) -> float | None:
        if self.not_after is None:
            return None
        now = now or datetime.datetime.now(datetime.UTC)
        return (self.not_after - now).total_seconds() / 86400


def conf_paths(layout: Layout) -> list[Path]:
    """Every ``renewal/*.conf``, sorted by name."""
    try:
        entries = os.listdir(layout.renewal_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(
            f"Cannot list {layout.renewal_dir}: {exc.strerror}", "Check the directory's permissions"
        ) from None
    return [
        layout.renewal_dir / e
        for e in sorted(entries)
        if e.endswith(".conf") and not e.startswith(".")
    ]


def inspect(conf_path: Path, layout: Layout, *, check_key: bool = True) -> LineageInfo:
    """Read a lineage's conf and current certificate, collecting problems instead of failing."""
    from cryptography import x509

    from certbot_like.crypto.certs import (
        PARSE_ERRORS,
        cert_identifiers,
        describe_key,
        issuer_cn,
        public_key_der,
    )
    from certbot_like.crypto.keys import load_private_key, public_der

    name = conf_path.name[: -len(".conf")]
    info = LineageInfo(name=name, conf=None, conf_path=conf_path)
    try:
        info.conf = read_renewal_conf(conf_path)
    except CertbotLikeError as exc:
        info.problems.append(exc.one_line())
        return info
    live = info.conf.live
    missing = [k for k in KINDS if not live[k].exists()]
    if missing:
        info.problems.append(f"missing or broken link(s): {', '.join(missing)}")
    versions = {link_version(live[k]) for k in KINDS if live[k].is_symlink()}
    if len(versions) > 1:
        info.problems.append("live links point at different versions")
    elif versions:
        info.version = versions.pop()
    if "cert" in missing:
        return info
    try:
        cert = x509.load_pem_x509_certificate(live["cert"].read_bytes())
        info.identifiers = cert_identifiers(cert)
        info.key_type = describe_key(cert)
    except (OSError, *PARSE_ERRORS):  # type: ignore[misc]  # mypy cannot star a tuple here
        info.problems.append("cert.pem is not a readable certificate")
        return info
    info.not_before, info.not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    info.serial = format(cert.serial_number, "x")
    info.issuer = issuer_cn(cert)
    if info.not_after <= datetime.datetime.now(datetime.UTC):
        info.problems.append("EXPIRED")
    if check_key and "privkey" not in missing:
        try:
            key = load_private_key(live["privkey"].read_bytes(), str(live["privkey"]))
            if public_der(key) != public_key_der(cert):
                info.problems.append("private key does not match the certificate")
        except (CertbotLikeError, OSError) as exc:
            info.problems.append(f"privkey.pem unreadable: {exc}")
    return info


def all_lineages(layout: Layout, *, check_key: bool = True) -> Iterator[LineageInfo]:
    """Every lineage, healthy or not, in name order."""
    for path in conf_paths(layout):
        yield inspect(path, layout, check_key=check_key)


def find_by_names(
    layout: Layout, identifiers: tuple[Identifier, ...]
) -> tuple[LineageInfo | None, LineageInfo | None]:
    """(a lineage with exactly these names, a lineage whose names are a strict subset).

    Uses renew's metadata-keyed scan cache, so with thousands of lineages only the changed
    ones are parsed and only the matches are inspected in full.
    """
    from certbot_like.services.renewal_state import RenewalState
    from certbot_like.services.scan import scan

    wanted = {i.value for i in identifiers}
    exact: LineageInfo | None = None
    subset: LineageInfo | None = None
    state = RenewalState.load(layout.work_dir)
    for entry in scan(layout, state):
        have = set(entry.state.names)
        if entry.problem or not have:
            continue
        if have == wanted and exact is None:
            exact = inspect(entry.conf_path, layout, check_key=False)
        elif have < wanted and subset is None:
            subset = inspect(entry.conf_path, layout, check_key=False)
    try:
        state.save(layout.work_dir)
    except CertbotLikeError:
        pass  # the cache is an optimisation only
    return exact, subset


def load_named(layout: Layout, name: str) -> LineageInfo | None:
    """The lineage called *name*, or None when it has no renewal conf."""
    path = layout.renewal_conf(name)
    return inspect(path, layout) if path.exists() else None


def named_conf(layout: Layout, name: str) -> RenewalConf:
    """The renewal conf of lineage *name*.

    Raises:
        UsageError: no lineage has that name (or the name is not a valid file name).
        ConfigError: the conf cannot be parsed.
    """
    from certbot_like.errors import UsageError
    from certbot_like.names import check_lineage_name

    path = layout.renewal_conf(check_lineage_name(name))
    if not path.exists():
        raise UsageError(
            f"No certificate named {name} in {layout.renewal_dir}",
            "Run `certbot-like certificates` to see the names",
        )
    return read_renewal_conf(path)
