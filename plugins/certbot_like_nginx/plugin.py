"""The object certbot-like builds for ``--nginx``: authenticator and installer in one.

certbot-like calls the same factory for both roles, so one class answers both protocols;
``prepare`` tells them apart by its argument (authenticators receive the challenge types).
"""

from __future__ import annotations

from collections.abc import Sequence

from certbot_like.interfaces import (
    Authenticator,
    ChallengeRouting,
    HstsEnhancement,
    Installer,
    RedirectEnhancement,
    RollbackCapable,
)

from .authenticator import NginxAuthenticator
from .installer import NginxInstaller


class NginxPlugin(NginxInstaller, NginxAuthenticator):
    """``--nginx``: HTTP-01 through nginx, and installation into nginx."""

    def prepare(self, challenge_types: Sequence[str] | None = None) -> None:
        """Check nginx and its configuration (as authenticator when given challenge types).

        Raises:
            PluginError: nginx is missing, rejects its configuration, or crossplane cannot
                read nginx.conf.
            InstallerError: an unfinished earlier change could not be restored.
        """
        if challenge_types is None:
            self._prepare_installer()
        else:
            self._prepare_authenticator(challenge_types)


# The plugin's contract, checked by mypy: NginxPlugin instances are all of these.
_authenticator: type[Authenticator] = NginxPlugin
_installer: type[Installer] = NginxPlugin
_redirect: type[RedirectEnhancement] = NginxPlugin
_hsts: type[HstsEnhancement] = NginxPlugin
_rollback: type[RollbackCapable] = NginxPlugin
_routing: type[ChallengeRouting] = NginxPlugin
