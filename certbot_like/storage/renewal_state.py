"""Per-lineage renewal state: cached facts, the ARI decision, Retry-After, the last outcome.

Per lineage: facts about the renewal conf and current certificate keyed on the store's
change token (so a no-op ``renew`` re-parses nothing that did not change), the ARI decision
(chosen moment, window, next check), a rate-limit retry time and the last attempt with its
outcome. Per server: whether it offers ARI and when that was last checked.

:class:`~certbot_like.storage.file_store.FileStore` keeps it in
``<work-dir>/certbot-like/renewal-state.json`` (certbot ignores that directory; losing the
file only costs one full scan); other stores keep it where they keep everything else.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from certbot_like.storage.atomic import make_dirs, write_file

logger = logging.getLogger(__name__)
# 2: one row (a list in FIELD_ORDER) per lineage; 3: store change tokens; 4: autorenew, revoked
STATE_VERSION = 4
STATE_NAME = "renewal-state.json"


@dataclass(slots=True)
class LineageState:
    """What we remember about one lineage between runs (all times are POSIX seconds)."""

    token: str | None = None  # the store's change token when the facts below were read
    hint: str | None = None  # the store's own memo for computing the token cheaply
    names: list[str] = field(default_factory=list)
    not_before: float | None = None
    not_after: float | None = None
    serial: str | None = None
    cert_id: str | None = None
    server: str | None = None
    renew_before_expiry: str | None = None
    autorenew: bool = True  # False: the conf says ``autorenew = False``
    revoked: bool = False  # the current certificate was revoked by certbot-like
    ari_cert_id: str | None = None
    ari_renew_at: float | None = None
    ari_next_check: float | None = None
    ari_window: tuple[float, float] | None = None
    retry_not_before: float | None = None
    last_error: str | None = None
    last_attempt: float | None = None
    last_outcome: str | None = None  # renewed | failed | deferred ...
    # monitoring (added in version 3 without a bump: older files lack them and load as unset)
    last_success: float | None = None  # when a renewal last succeeded
    failures: int = 0  # failed renewal attempts, ever (a Prometheus counter)
    health_token: str | None = None  # the token when `health` was computed
    health: str | None = None  # key/chain/names problems found then, "; "-joined
    notified_error: str | None = None  # the failure last notified (its signature)
    notified_at: float | None = None  # when it was notified

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    def to_row(self) -> list[Any]:
        return [getattr(self, name) for name in FIELD_ORDER]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LineageState:
        """Rebuild from JSON; a value of the wrong type yields a blank state (a fresh scan).

        Raises:
            ValueError: *data* holds a value of the wrong type.
        """
        known = {k: v for k, v in data.items() if k in _FIELDS}
        for key, value in known.items():
            if not _valid(key, value):
                raise ValueError(f"renewal state field {key} has the wrong type")
        for key in ("ari_window",):
            if isinstance(known.get(key), list):
                known[key] = tuple(known[key])
        return cls(**known)


FIELD_ORDER = tuple(f.name for f in fields(LineageState))
_FIELDS = frozenset(FIELD_ORDER)
_SIGS = {"ari_window": 2}
_NUMBERS = {
    "not_before",
    "not_after",
    "ari_renew_at",
    "ari_next_check",
    "retry_not_before",
    "last_attempt",
    "last_success",
    "notified_at",
}
_COUNTS = {"failures"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _valid(key: str, value: Any) -> bool:
    """Whether a JSON value fits the LineageState field *key* (None always does)."""
    if value is None:
        return key not in _COUNTS
    if key in _SIGS:
        return (
            isinstance(value, list)
            and len(value) == _SIGS[key]
            and all(_is_number(v) for v in value)
        )
    if key in _NUMBERS:
        return _is_number(value)
    if key in _COUNTS:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if key in ("autorenew", "revoked"):
        return isinstance(value, bool)
    if key == "names":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


@dataclass
class ServerState:
    """Whether a CA offers ARI, and when we last looked at its directory."""

    ari: bool = False
    checked: float = 0.0


@dataclass
class RunRecord:
    """The last ``renew`` run: when it started, how long it took, its exit code."""

    started: float = 0.0
    duration: float = 0.0
    exit_code: int = 0


@dataclass
class RenewalState:
    """The whole state file."""

    lineages: dict[str, LineageState] = field(default_factory=dict)
    servers: dict[str, ServerState] = field(default_factory=dict)
    last_run: RunRecord | None = None
    dirty: bool = False  # set by whoever changes anything; an unchanged state is not written

    @classmethod
    def load(cls, work_dir: Path) -> RenewalState:
        """Read the state; a missing, unreadable or foreign file yields an empty state."""
        path = state_path(work_dir)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, RecursionError):
            logger.warning("Ignoring unreadable renewal state %s", path)
            return cls(dirty=True)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return cls(dirty=True)
        state = cls()
        names = data.get("fields")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return cls(dirty=True)
        state.dirty = not _load_rows(state.lineages, names, _mapping(data.get("lineages")))
        for key, value in _mapping(data.get("servers")).items():
            item = _mapping(value)
            if isinstance(item.get("ari"), bool) and _is_number(item.get("checked")):
                state.servers[str(key)] = ServerState(
                    ari=item["ari"], checked=float(item["checked"])
                )
            else:
                state.dirty = True
        state.last_run = _run_record(data.get("last_run"))
        return state

    def save(self, work_dir: Path, keep: set[str] | None = None) -> None:
        """Atomically write the state if anything changed (keeping only *keep* lineages).

        Raises:
            StorageError: the file cannot be written.
        """
        if keep is not None and set(self.lineages) - keep:
            self.lineages = {k: v for k, v in self.lineages.items() if k in keep}
            self.dirty = True
        if not self.dirty:
            return
        data = {
            "version": STATE_VERSION,
            "fields": list(FIELD_ORDER),
            "lineages": {k: v.to_row() for k, v in self.lineages.items()},
            "servers": {k: asdict(v) for k, v in self.servers.items()},
        }
        if self.last_run is not None:
            data["last_run"] = asdict(self.last_run)
        path = state_path(work_dir)
        make_dirs(path.parent, 0o700)
        encoder = json.JSONEncoder(separators=(",", ":"))
        write_file(path, _batched(encoder.iterencode(data)), 0o600)
        self.dirty = False


_NONE = type(None)
_STR = frozenset({str, _NONE})
_NUM = frozenset({int, float, _NONE})
_ROW_TYPES = tuple(
    frozenset({list})
    if name == "names"
    else frozenset({bool})
    if name in ("autorenew", "revoked")
    else frozenset({int})
    if name in _COUNTS
    else frozenset({_NONE})  # ari_window: rows with a window take the checked path
    if name in _SIGS
    else _NUM
    if name in _NUMBERS
    else _STR
    for name in FIELD_ORDER
)
_ROW_LEN = len(FIELD_ORDER)
_NAMES_AT = FIELD_ORDER.index("names")
_SERVER_AT = FIELD_ORDER.index("server")
_FAILURES_AT = FIELD_ORDER.index("failures")
_VALID_SIGNATURES: set[tuple[type, ...]] = set()


def row_state(row: Any) -> LineageState | None:
    """A row of the current field order as a LineageState, by type signature only (a warm
    run over 100,000 lineages loads 2.5 million fields); None: take the checked path."""
    if type(row) is not list or len(row) != _ROW_LEN:
        return None
    signature = tuple(map(type, row))
    if signature not in _VALID_SIGNATURES:
        if not all(t in allowed for t, allowed in zip(signature, _ROW_TYPES, strict=True)):
            return None
        _VALID_SIGNATURES.add(signature)
    if row[_FAILURES_AT] < 0 or not set(map(type, row[_NAMES_AT])) <= {str}:
        return None
    if row[_SERVER_AT] is not None:
        row[_SERVER_AT] = sys.intern(row[_SERVER_AT])
    return LineageState(*row)


def _load_rows(into: dict[str, LineageState], names: list[str], rows: dict[str, Any]) -> bool:
    """Rows of *names* fields into LineageStates; False when a row was dropped (rescanned)."""
    fast = names == list(FIELD_ORDER)
    complete = True
    for key, value in rows.items():
        if fast:
            row = row_state(value)
            if row is not None:
                into[str(key)] = row
                continue
        try:
            if isinstance(value, list) and names and "server" in names:
                at = names.index("server")
                if isinstance(value[at], str):
                    value[at] = sys.intern(value[at])
            if not isinstance(value, list) or len(value) != len(names):
                raise ValueError("bad row")
            into[str(key)] = LineageState.from_json(dict(zip(names, value, strict=True)))
        except (ValueError, TypeError):
            complete = False
    return complete


def _batched(parts: Iterator[str], size: int = 1 << 16) -> Iterator[bytes]:
    """Join the encoder's many small strings into ~64 KiB writes."""
    buffer: list[str] = []
    length = 0
    for part in parts:
        buffer.append(part)
        length += len(part)
        if length >= size:
            yield "".join(buffer).encode()
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer).encode()


def _run_record(value: Any) -> RunRecord | None:
    item = _mapping(value)
    started, duration, code = item.get("started"), item.get("duration"), item.get("exit_code")
    if not (_is_number(started) and _is_number(duration) and isinstance(code, int)):
        return None
    return RunRecord(float(started or 0), float(duration or 0), code)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def state_path(work_dir: Path) -> Path:
    return work_dir / "certbot-like" / STATE_NAME
