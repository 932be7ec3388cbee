"""The object certbot-like builds for ``--apache``: authenticator and installer in one.

The core builds one instance per role (``make_plugin`` for the authenticator, another for
the installer); both roles share the code that reads the configuration
(:class:`~certbot_like_apache.config.ApacheConfig`) and keep their own changes apart: the
authenticator's are temporary checkpoints, the installer's are committed ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from certbot_like.interfaces import (
    Authenticator,
    ChallengeRouting,
    ChallengeTask,
    DeployTarget,
    HstsEnhancement,
    Identifier,
    Installer,
    PluginContext,
    RedirectEnhancement,
    RollbackCapable,
)
from certbot_like_apache import ApacheOptions
from certbot_like_apache.authenticator import ApacheAuthenticator
from certbot_like_apache.config import ApacheConfig
from certbot_like_apache.installer import ApacheInstaller


class ApachePlugin:
    """Implements Authenticator, Installer, RedirectEnhancement, HstsEnhancement,
    ChallengeRouting and RollbackCapable (see :mod:`certbot_like.interfaces`)."""

    def __init__(self, options: ApacheOptions, context: PluginContext) -> None:
        self.config = ApacheConfig(options, context)
        self.authenticator = ApacheAuthenticator(self.config)
        self.installer = ApacheInstaller(self.config)
        self._opened = False

    def prepare(self, challenge_types: Sequence[str] = ()) -> None:
        """Find Apache and load its configuration (both roles).

        Raises:
            PluginError: no configuration or control command, or Augeas cannot load the
                main file.
        """
        if not self._opened:
            self.config.open()
            self._opened = True

    # -- authenticator --------------------------------------------------------------------

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        return self.authenticator.preferred_challenges(identifier)

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """See :meth:`ApacheAuthenticator.perform`.

        Raises:
            PluginError: the challenges could not be served.
        """
        self.prepare()
        self.authenticator.perform(tasks)

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        self.authenticator.cleanup(tasks)

    # -- installer ------------------------------------------------------------------------

    def names(self) -> set[str]:
        return self.installer.names()

    def deploy(self, target: DeployTarget) -> None:
        """See :meth:`ApacheInstaller.deploy`.

        Raises:
            InstallerError: the certificate could not be deployed.
        """
        self.installer.deploy(target)

    def enable_redirect(self, target: DeployTarget) -> None:
        """See :meth:`ApacheInstaller.enable_redirect`.

        Raises:
            InstallerError: the redirect could not be added.
        """
        self.installer.enable_redirect(target)

    def enable_hsts(self, target: DeployTarget) -> None:
        """See :meth:`ApacheInstaller.enable_hsts`.

        Raises:
            InstallerError: the header could not be added.
        """
        self.installer.enable_hsts(target)

    def route_challenges(self, names: Sequence[str], upstream: str) -> list[str]:
        """See :meth:`ApacheInstaller.route_challenges`.

        Raises:
            InstallerError: the route could not be added (nothing is left changed).
        """
        return self.installer.route_challenges(names, upstream)

    def config_test(self) -> None:
        """Raises:
        InstallerError: Apache rejects the configuration."""
        self.installer.config_test()

    def reload(self) -> None:
        """Raises:
        InstallerError: the graceful restart failed."""
        self.installer.reload()

    def restore(self) -> None:
        """Raises:
        InstallerError: a file could not be restored."""
        self.installer.restore()

    def rollback_last(self) -> str:
        """Raises:
        InstallerError: nothing to roll back, or a file was edited since."""
        return self.installer.rollback_last()


# The plugin's contract, checked by mypy: ApachePlugin instances are all of these.
_authenticator: type[Authenticator] = ApachePlugin
_installer: type[Installer] = ApachePlugin
_redirect: type[RedirectEnhancement] = ApachePlugin
_hsts: type[HstsEnhancement] = ApachePlugin
_rollback: type[RollbackCapable] = ApachePlugin
_routing: type[ChallengeRouting] = ApachePlugin
