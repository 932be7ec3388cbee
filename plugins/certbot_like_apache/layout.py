"""Distribution layouts of an Apache configuration, as data.

A layout says where the main configuration file is relative to the ServerRoot and how
modules and sites are enabled there:

- Debian and Ubuntu (``/etc/apache2``): ``apache2.conf``; modules are enabled by symbolic
  links ``mods-enabled/NAME.load`` (and ``.conf``) to ``../mods-available/`` as ``a2enmod``
  makes them, following the ``# Depends:`` lines of the ``.load`` files; sites by links
  ``sites-enabled/NAME.conf`` to ``../sites-available/`` as ``a2ensite`` makes them.
- RHEL, CentOS, Fedora, Alma, Rocky (``/etc/httpd``): ``conf/httpd.conf`` and one tree,
  ``conf.d/*.conf`` included as is; modules are loaded with ``LoadModule`` lines, which the
  plugin keeps in its own ``conf.modules.d/00-certbot-like.conf`` (package files are never
  edited, so package upgrades do not conflict).

Nothing here subclasses anything: the installer asks the layout, not the distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from certbot_like.errors import PluginError


@dataclass(frozen=True)
class DistroLayout:
    """Where things are in one distribution's Apache configuration (paths relative to the
    ServerRoot)."""

    name: str
    main_config: str
    sites_available: str | None = None
    sites_enabled: str | None = None
    mods_available: str | None = None
    mods_enabled: str | None = None
    module_file: str | None = None
    """Our own file of ``LoadModule`` lines, for layouts without ``mods-enabled``."""
    ctl: str = "apachectl"

    @property
    def links_modules(self) -> bool:
        """True when modules are enabled by links in ``mods-enabled`` (a2enmod's way)."""
        return self.mods_available is not None and self.mods_enabled is not None

    def matches(self, server_root: Path) -> bool:
        """True when *server_root* holds this layout's main file (and its module folders)."""
        if not (server_root / self.main_config).is_file():
            return False
        if self.links_modules:
            assert self.mods_available is not None and self.mods_enabled is not None
            return (server_root / self.mods_available).is_dir() and (
                server_root / self.mods_enabled
            ).is_dir()
        return True


DEBIAN = DistroLayout(
    name="debian",
    main_config="apache2.conf",
    sites_available="sites-available",
    sites_enabled="sites-enabled",
    mods_available="mods-available",
    mods_enabled="mods-enabled",
    ctl="apache2ctl",
)

RHEL = DistroLayout(
    name="rhel",
    main_config="conf/httpd.conf",
    module_file="conf.modules.d/00-certbot-like.conf",
    ctl="apachectl",
)

LAYOUTS: tuple[DistroLayout, ...] = (DEBIAN, RHEL)


def detect(server_root: Path) -> DistroLayout:
    """The layout of the configuration under *server_root*.

    Raises:
        PluginError: the directory is missing or holds none of the known layouts.
    """
    if not server_root.is_dir():
        raise PluginError(
            f"Apache's server root {server_root} does not exist",
            "Pass --apache-server-root (/etc/apache2 on Debian, /etc/httpd on RHEL)",
        )
    for layout in LAYOUTS:
        if layout.matches(server_root):
            return layout
    looked = ", ".join(str(server_root / layout.main_config) for layout in LAYOUTS)
    raise PluginError(
        f"No Apache configuration found under {server_root} (looked for {looked})",
        "Pass --apache-server-root (/etc/apache2 on Debian, /etc/httpd on RHEL)",
    )
