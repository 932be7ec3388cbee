"""Deleting a lineage: renewal conf first (so it stops existing), then live/ and archive/,
never a path outside the config directory."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from certbot_like.errors import (
    ConfigError,
    UsageError,
)
from certbot_like.names import check_lineage_name
from certbot_like.services.accounts import Prompter
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_conf import read_renewal_conf

logger = logging.getLogger(__name__)

# -- delete ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteResult:
    """The lineage removed and the paths that are gone."""

    name: str
    removed: tuple[Path, ...]


def _inside(path: Path, root: Path) -> bool:
    """True when *path* is a direct child of *root* (compared without following *path*)."""
    parent = Path(os.path.realpath(os.path.dirname(os.path.abspath(path))))
    return parent == Path(os.path.realpath(root)) and path.name not in ("", ".", "..")


def delete_lineage(
    layout: Layout, name: str, display: Prompter, *, confirmed: bool
) -> DeleteResult:
    """Delete lineage *name*: its renewal conf first (it stops existing), then live, archive.

    Unless *confirmed*, asks on a terminal (default no) and fails without one.

    Raises:
        UsageError: no such lineage, an invalid name, or the operator said no (or could not
            be asked: pass ``-n``).
        ConfigError: the conf points outside ``live/`` or ``archive/`` (nothing is removed).
        StorageError: the renewal conf cannot be removed.
    """
    from certbot_like.storage.lineage import LineageStore

    conf_path = layout.renewal_conf(check_lineage_name(name))
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
    if not confirmed and not display.confirm(
        f"Delete certificate {name} (live/{name}, archive/{name} and renewal/{name}.conf)? "
        "This cannot be undone.",
        default=False,
        flag_hint="Pass -n to confirm",
    ):
        raise UsageError(f"Cancelled; certificate {name} was not deleted", "Pass -n to confirm")
    LineageStore(layout).delete(name, archive_dir=archive, live_dir=live)
    logger.info("Deleted lineage %s", name)
    return DeleteResult(name, (conf_path, live, archive))
