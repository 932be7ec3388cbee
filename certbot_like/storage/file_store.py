""":class:`FileStore`: the :class:`~certbot_like.storage.store.Store` contract on certbot's
file layout (``accounts/``, ``archive/``, ``live/``, ``renewal/`` under the config dir, state
and locks under the work dir). Everything certbot writes is read, and everything written
here is readable by certbot 5.8."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from certbot_like.errors import ConfigError, StorageError, UsageError
from certbot_like.names import check_lineage_name
from certbot_like.storage.layout import KINDS, Layout
from certbot_like.storage.lineage import LineageStore, archive_versions, version_of_target
from certbot_like.storage.renewal_conf import RenewalConf, read_renewal_conf, write_renewal_conf
from certbot_like.storage.renewal_params import RenewalParams
from certbot_like.storage.renewal_state import RenewalState
from certbot_like.storage.store import (
    CertFiles,
    Lineage,
    LineageFacts,
    StoredAccount,
    facts_from_pem,
)

PENDING_KEY_NAME = "pending_private_key.json"
PARSED_CACHE = 256  # parsed renewal confs kept by one FileStore


def _token(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


class FileStore:
    """certbot's layout under one :class:`Layout`."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.lineages = LineageStore(layout)
        # parsed confs by name, valid while the file's (inode, size, mtime) stay: a command
        # that reads a lineage and then its files (certificates, renew) parses it once. The
        # oldest entries go beyond PARSED_CACHE, so memory stays flat over 100,000 lineages.
        self._parsed: dict[str, tuple[tuple[int, int, int], RenewalConf]] = {}
        self._renewal_dir = os.fspath(layout.renewal_dir)

    @property
    def description(self) -> str:
        return str(self.layout.config_dir)

    # -- lineages ----------------------------------------------------------------------------

    def lineage_names(self) -> list[str]:
        directory = self.layout.renewal_dir
        try:
            entries = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigError(
                f"Cannot list {directory}: {exc.strerror}", "Check the directory's permissions"
            ) from None
        return sorted(e[: -len(".conf")] for e in entries if e.endswith(".conf") and e[0] != ".")

    def orphan_certificates(self) -> list[str]:
        root = self.layout.live_root
        try:
            entries = sorted(os.listdir(root))
        except OSError:
            return []
        try:
            known = set(self.lineage_names())
        except ConfigError:
            return []
        return [e for e in entries if e[0] != "." and e not in known and (root / e).is_dir()]

    def _conf_path(self, name: str) -> Path:
        try:
            return self.layout.renewal_conf(name)
        except UsageError:
            raise UsageError(
                f"No certificate named {name!r} in {self.layout.renewal_dir}",
                "Run `certbot-like certificates` to see the names",
            ) from None

    def has_lineage(self, name: str) -> bool:
        try:
            return self.layout.renewal_conf(name).exists()
        except UsageError:
            return False

    def _conf(self, name: str) -> RenewalConf:
        cached = self._parsed.get(name)
        path = cached[1].path if cached is not None else self._conf_path(name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise UsageError(
                f"No certificate named {name} in {self.layout.renewal_dir}",
                "Run `certbot-like certificates` to see the names",
            ) from None
        except OSError:
            return read_renewal_conf(path)  # raises the reason, naming the file
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if cached is not None and cached[0] == key:
            return cached[1]
        conf = read_renewal_conf(path)
        self._parsed.pop(name, None)
        if len(self._parsed) >= PARSED_CACHE:
            del self._parsed[next(iter(self._parsed))]  # the oldest
        self._parsed[name] = (key, conf)
        return conf

    def read_lineage(self, name: str) -> Lineage:
        conf = self._conf(name)
        live = conf.live
        problems: list[str] = []
        missing = []
        versions = set()
        for kind in KINDS:  # os.* on str: pathlib's exists/is_symlink cost 3x as much
            path = os.fspath(live[kind])
            try:
                os.stat(path)
            except OSError:
                missing.append(kind)
            try:
                target = os.readlink(path)
            except OSError:
                continue  # not a link
            versions.add(version_of_target(target))
        if missing:
            problems.append(f"missing or broken link(s): {', '.join(missing)}")
        version: int | None = None
        if len(versions) > 1:
            problems.append("live links point at different versions")
        elif versions:
            version = versions.pop()
        return Lineage(
            name=conf.name,
            params=conf.params,
            live=dict(live),
            location=str(conf.path),
            version=version,
            version_list=lambda: tuple(sorted(archive_versions(conf.archive_dir))),
            problems=tuple(problems),
        )

    def read_files(
        self, name: str, version: int | None = None, *, kinds: Collection[str] = KINDS
    ) -> CertFiles:
        conf = self._conf(name)
        if version is None:
            return self.lineages.read_live(conf.live["cert"].parent, conf.live, kinds)
        return self.lineages.read_archive(conf.archive_dir, version, kinds)

    def change_token(self, name: str, hint: str | None) -> str | None:
        try:  # a str path: building a Path per lineage was a third of a warm scan
            conf = f"{self._renewal_dir}/{check_lineage_name(name)}.conf"
        except UsageError:
            conf = os.fspath(self._conf_path(name))  # raises the usual message
        try:
            conf_token = _token(os.stat(conf))
            if hint is None:
                return None
            target = os.path.join(os.path.dirname(hint), os.readlink(hint))
            return f"{conf_token}|{target}|{_token(os.stat(target))}"
        except OSError as exc:
            raise StorageError(
                f"{exc.filename or conf}: {exc.strerror or exc}",
                "Restore the lineage's files or delete it",
            ) from None

    def lineage_facts(self, name: str) -> LineageFacts:
        conf = self._conf(name)
        link = conf.live["cert"]
        try:
            data = link.read_bytes()
        except OSError as exc:
            raise StorageError(
                f"{exc.filename or link}: {exc.strerror or exc}",
                "Restore the lineage's files or delete it",
            ) from None
        return facts_from_pem(data, conf.params, str(link), hint=str(link))

    def prepare_writes(self) -> None:
        self.lineages.check_writable()
        self.lineages.cleanup_staging()

    def save_version(
        self,
        name: str,
        files: CertFiles,
        params: RenewalParams,
        *,
        expect_version: int | None,
    ) -> Lineage:
        from certbot_like import __version__

        conf = self._conf(name) if self.has_lineage(name) else None
        archive = conf.archive_dir if conf else None
        live = conf.live["cert"].parent if conf else None
        if conf is not None and expect_version is not None:
            current = self.lineages.current_version(live or self.layout.live_dir(name))
            if current != expect_version:
                raise StorageError(
                    f"{name} changed while it was being renewed (version {current}, "
                    f"expected {expect_version}); nothing was stored",
                    "Another run renewed it; run again to see its state",
                )
        self.lineages.save_version(name, files, archive_dir=archive, live_dir=live)
        write_renewal_conf(self.layout, name, params, __version__)
        return self.read_lineage(name)

    def write_params(self, name: str, params: RenewalParams) -> None:
        from certbot_like import __version__

        self._conf(name)  # exists and parses
        write_renewal_conf(self.layout, name, params, __version__)

    def delete_lineage(self, name: str) -> list[str]:
        layout = self.layout
        conf_path = self._conf_path(name)
        if not conf_path.exists():
            raise UsageError(
                f"No certificate named {name} in {layout.renewal_dir}",
                "Run `certbot-like certificates` to see the names",
            )
        try:
            conf = read_renewal_conf(conf_path)
            live, archive = conf.live["cert"].parent, conf.archive_dir
        except ConfigError:  # a broken conf must not make a lineage undeletable
            live, archive = layout.live_dir(name), layout.archive_dir(name)
        for path, root in ((live, layout.live_root), (archive, layout.archive_root)):
            if not _inside(path, root):
                raise ConfigError(
                    f"{conf_path} points at {path}, outside {root}; nothing was deleted",
                    "Remove that lineage's files by hand",
                )
        self.lineages.delete(name, archive_dir=archive, live_dir=live)
        return [str(conf_path), str(live), str(archive)]

    def unused_name(self, name: str) -> str:
        return self.lineages.unused_name(name)

    # -- accounts ----------------------------------------------------------------------------

    def _accounts(self, server: str) -> Any:
        from certbot_like.storage.accounts import AccountStore

        return AccountStore(self.layout, server)

    def all_accounts(self) -> list[tuple[str, str]]:
        """(server, id) of every account under ``accounts/`` (certbot's layout:
        ``accounts/<host[:port]>/<path>/<id>/private_key.json``), for ``fleet import``."""
        root = self.layout.accounts_root
        found = []
        for key in sorted(root.rglob("private_key.json")) if root.is_dir() else []:
            where = key.parent.parent.relative_to(root)
            found.append(("https://" + where.as_posix(), key.parent.name))
        return found

    def account_ids(self, server: str) -> list[str]:
        ids: list[str] = self._accounts(server).ids()
        return ids

    def load_account(self, server: str, account_id: str) -> StoredAccount:
        account: StoredAccount = self._accounts(server).load(account_id)
        return account

    def save_account(self, account: StoredAccount) -> None:
        self._accounts(account.server).save(account)

    def save_registration(self, account: StoredAccount) -> None:
        self._accounts(account.server).save_regr(account)

    def _pending_path(self, server: str, account_id: str) -> Path:
        directory: Path = self._accounts(server).directory
        return directory / account_id / PENDING_KEY_NAME

    def pending_account_key(self, server: str, account_id: str) -> dict[str, Any] | None:
        path = self._pending_path(server, account_id)
        if not path.exists():
            return None
        return _read_key(path)

    def save_pending_account_key(self, server: str, account_id: str, jwk: dict[str, Any]) -> str:
        from certbot_like.storage.atomic import PRIVATE_MODE, write_file

        path = self._pending_path(server, account_id)
        write_file(path, json.dumps(jwk).encode(), PRIVATE_MODE)
        return str(path)

    def drop_pending_account_key(self, server: str, account_id: str) -> None:
        from certbot_like.storage.atomic import storage_error

        path = self._pending_path(server, account_id)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise storage_error(exc, "remove", path) from exc
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only once the account moved away (else not empty)

    def moved_pending_keys(self, server: str) -> list[tuple[str, dict[str, Any]]]:
        directory: Path = self._accounts(server).directory
        found: list[tuple[str, dict[str, Any]]] = []
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            return found
        for entry in entries:
            pending = directory / entry / PENDING_KEY_NAME
            if pending.is_file() and not (directory / entry / "private_key.json").exists():
                found.append((entry, _read_key(pending)))
        return found

    def replace_account_key(
        self, account: StoredAccount, new_id: str, new_key: dict[str, Any]
    ) -> None:
        self._accounts(account.server).replace_key(account, new_id, new_key)

    # -- renewal state and locks -------------------------------------------------------------

    def load_state(self) -> RenewalState:
        return RenewalState.load(self.layout.work_dir)

    def save_state(self, state: RenewalState, keep: set[str] | None = None) -> None:
        state.save(self.layout.work_dir, keep)

    @contextlib.contextmanager
    def run_lock(self) -> Iterator[object]:
        """certbot's ``.certbot.lock`` on the config and work directories, all or none."""
        from certbot_like.storage.atomic import make_dirs
        from certbot_like.storage.lock import MultiDirLock

        make_dirs(self.layout.config_dir, 0o755)
        make_dirs(self.layout.work_dir, 0o755)
        with MultiDirLock([self.layout.config_dir, self.layout.work_dir]) as lock:
            yield lock

    def lineage_lock(self, name: str) -> Any:
        from certbot_like.storage.atomic import make_dirs
        from certbot_like.storage.lock import LineageLock

        make_dirs(self.layout.lock_dir, 0o700)
        return LineageLock(self.layout.lock_dir, name)

    def hook_dir(self, stage: str) -> Path:
        return self.layout.hooks_dir / stage


def _inside(path: Path, root: Path) -> bool:
    """True when *path* is a direct child of *root* (compared without following *path*)."""
    parent = Path(os.path.realpath(os.path.dirname(os.path.abspath(path))))
    return parent == Path(os.path.realpath(root)) and path.name not in ("", ".", "..")


def _read_key(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or "kty" not in data:
        raise ConfigError(
            f"The pending account key {path} is unreadable",
            "Restore it from a backup; if the old key still works, delete the file",
        )
    return data
