"""A lineage's deploy settings as every run carries them (:class:`DeploySettings`).

Kept apart from :mod:`certbot_like.deploy.spec` (which parses and checks targets, owners
and modes) so that a run without ``--deploy-to`` defines no more than this class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from certbot_like.deploy.spec import DeployTarget

KEY_FORMATS = frozenset({"key", "combined", "pkcs12"})
KEY_MODE = 0o600
PUBLIC_MODE = 0o644


@dataclass(frozen=True)
class DeploySettings:
    """A lineage's deploy targets and how they are written."""

    targets: tuple[DeployTarget, ...] = ()
    owner: str | None = None
    mode: int | None = None
    reload: str | None = None
    pkcs12_password_file: Path | None = None
    pkcs12_legacy: bool = False

    def mode_for(self, target: DeployTarget) -> int:
        """The mode asked for, else 0600 for a file holding the key and 0644 otherwise."""
        if self.mode is not None:
            return self.mode
        return KEY_MODE if target.holds_key else PUBLIC_MODE

    def conf_values(self) -> dict[str, object]:
        """The renewal-conf keys (None removes one)."""
        return {
            "deploy_to": [str(t) for t in self.targets] or None,
            "deploy_owner": self.owner,
            "deploy_mode": format(self.mode, "04o") if self.mode is not None else None,
            "deploy_reload": self.reload,
            "pkcs12_password_file": str(self.pkcs12_password_file)
            if self.pkcs12_password_file
            else None,
            "pkcs12_legacy": True if self.pkcs12_legacy else None,
        }
