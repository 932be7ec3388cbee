"""Where things live on disk: certbot's layout, in one place.

::

    <config-dir>/accounts/<host[:port]>/<path>/<account-id>/{meta,private_key,regr}.json
    <config-dir>/archive/<name>/{cert,chain,fullchain,privkey}N.pem
    <config-dir>/live/<name>/{cert,chain,fullchain,privkey}.pem -> ../../archive/<name>/...N.pem
    <config-dir>/renewal/<name>.conf
    <config-dir>/renewal-hooks/{pre,deploy,post}/
    <work-dir>/  (locks, state, backups)   <logs-dir>/letsencrypt.log
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from certbot_like.names import check_lineage_name

KINDS = ("cert", "privkey", "chain", "fullchain")
DEFAULT_CONFIG_DIR = Path("/etc/letsencrypt")
DEFAULT_WORK_DIR = Path("/var/lib/letsencrypt")
DEFAULT_LOGS_DIR = Path("/var/log/letsencrypt")


@dataclass(frozen=True)
class Layout:
    """The three directories of an installation and every path derived from them."""

    config_dir: Path = DEFAULT_CONFIG_DIR
    work_dir: Path = DEFAULT_WORK_DIR
    logs_dir: Path = DEFAULT_LOGS_DIR

    @property
    def accounts_root(self) -> Path:
        return self.config_dir / "accounts"

    def accounts_dir(self, server: str) -> Path:
        """certbot's per-server account directory: netloc + path of the directory URL."""
        parsed = urlparse(server)
        parts = [p for p in (parsed.netloc + parsed.path).split("/") if p not in ("", ".", "..")]
        return self.accounts_root.joinpath(*parts)

    @property
    def archive_root(self) -> Path:
        return self.config_dir / "archive"

    @property
    def live_root(self) -> Path:
        return self.config_dir / "live"

    @property
    def renewal_dir(self) -> Path:
        return self.config_dir / "renewal"

    @property
    def hooks_dir(self) -> Path:
        return self.config_dir / "renewal-hooks"

    def archive_dir(self, name: str) -> Path:
        return self.archive_root / check_lineage_name(name)

    def live_dir(self, name: str) -> Path:
        return self.live_root / check_lineage_name(name)

    def renewal_conf(self, name: str) -> Path:
        return self.renewal_dir / f"{check_lineage_name(name)}.conf"

    @property
    def lock_dir(self) -> Path:
        return self.work_dir / "locks"

    @property
    def state_dir(self) -> Path:
        """certbot-like's own state (renewal check times, scan cache); certbot ignores it."""
        return self.work_dir / "certbot-like"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "letsencrypt.log"
