"""What the installer and the authenticator share: loading, choosing, writing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from certbot_like.errors import InstallerError, PluginError
from certbot_like.interfaces import PluginContext

from . import NginxOptions, parser
from .backup import Backups, Checkpoint
from .choice import NothingServes
from .control import NginxControl
from .planner import Plan
from .selection import Ambiguity

logger = logging.getLogger(__name__)


class NginxBase:
    """Options, context, the nginx control and the backups of one plugin instance."""

    def __init__(self, options: NginxOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context
        self.root = Path(options.nginx_server_root)
        self.control = NginxControl(options.nginx_ctl, self.root, options.nginx_sleep_seconds)
        self.backups = Backups(context.work_dir)
        self._dumped: list[str] | None = None
        self._pid: str | None = None

    def _recover(self) -> None:
        """Restore what a process that died mid-change left behind.

        Raises:
            InstallerError: a file could not be restored.
        """
        for checkpoint in self.backups.recover():
            self.context.display.notify(
                f"Restored {', '.join(checkpoint.paths)}: an earlier certbot-like run stopped "
                f"while changing them ({checkpoint.description})"
            )

    def _load(self, names: Sequence[str] = ()) -> parser.NginxConfig:
        """Parse the configuration, checked against what nginx loads (``nginx -T``, once).

        Raises:
            PluginError: nginx rejects its current configuration, crossplane cannot read the
                main file or a file concerning *names*, or nginx loads another nginx.conf.
        """
        if not self.root.is_dir():
            raise PluginError(
                f"The nginx server root {self.root} does not exist",
                "Give the directory holding nginx.conf with --nginx-server-root",
            )
        config = parser.load(self.root)
        if self._dumped is None:
            self._dumped = list(self.control.dump())
        parser.compare_with_dump(config, self._dumped)
        config.check_unparsed(names)
        self._pid = config.pid
        return config

    def _apply(self, plan: Plan, checkpoint: Checkpoint) -> list[str]:
        """Write the plan's files (each backed up in *checkpoint* first); return their paths.

        Raises:
            InstallerError: a backup or a write failed.
        """
        texts = plan.texts()
        for path, text in texts.items():
            checkpoint.write(path, text.encode("utf-8", "surrogateescape"))
            logger.info("Changed %s", path)
        for note in plan.notes:
            logger.info("%s", note)
            self.context.display.notify(note)
        return list(texts)


def explain(
    exc: Ambiguity | NothingServes, kind: type[PluginError] = InstallerError
) -> PluginError:
    """The error for a choice nginx would make ambiguously, or no block at all (nothing
    was changed)."""
    if isinstance(exc, Ambiguity):
        return kind(exc.message + "; nothing was changed", exc.hint)
    return kind(
        f"{exc}; nothing was changed",
        "Add a server block with that server_name (listening on the HTTP port), "
        "then run certbot-like again",
    )
