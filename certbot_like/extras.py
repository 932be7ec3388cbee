"""The optional extras: which parts of certbot-like need a dependency not everyone installs,
and the one line that names the extra when it is missing.

``pip install 'certbot-like[apache]'`` (or ``[lexicon]``, ``[notify]``, ``[all]``) adds them;
the Debian package includes every extra. Whether an extra is installed is decided with
:func:`importlib.util.find_spec`, which does not import the dependency, so ``plugins`` and
``--version`` stay fast.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Extra:
    """One optional extra: its name, the module it provides, the distribution and feature."""

    name: str
    module: str
    distribution: str
    feature: str

    @property
    def install_hint(self) -> str:
        """``pip install 'certbot-like[apache]'``."""
        return f"pip install 'certbot-like[{self.name}]'"

    def installed(self) -> bool:
        """True when the extra's module can be found (it is not imported)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False

    def missing_message(self) -> str:
        """One line: what is missing, for what, and the command that adds it."""
        return (
            f"{self.distribution} is not installed ({self.feature} needs it); "
            f"install the extra: {self.install_hint}"
        )


EXTRAS: dict[str, Extra] = {
    extra.name: extra
    for extra in (
        Extra("apache", "augeas", "python-augeas", "the apache plugin"),
        Extra("lexicon", "lexicon", "dns-lexicon", "dns-lexicon and certbot's dns-* plugins"),
        Extra("notify", "apprise", "apprise", "--notify"),
        Extra("postgresql", "psycopg", "psycopg", "--store (fleet mode)"),
    )
}


def missing_extras() -> list[Extra]:
    """The extras whose dependency is not installed, in :data:`EXTRAS` order."""
    return [extra for extra in EXTRAS.values() if not extra.installed()]
