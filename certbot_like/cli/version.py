"""``certbot-like --version``: the version, the libraries that do the cryptography and the
ACME messages, and where this copy is installed (bug reports and "which one am I running?").

Kept cheap, because scripts call it: versions come from the names of the installed
distributions' dist-info directories (nothing of acme is imported), OpenSSL's from
cryptography's compiled binding and the standard library's ``_ssl``.
"""

from __future__ import annotations

import os
import sys

from certbot_like import __version__


def _package_site(name: str) -> str | None:
    """The ``sys.path`` directory that holds package *name* (as the import system finds it).

    A listing of the path entries; only a package that is not a plain directory or module
    there (an editable install's finder, a zip) takes :func:`importlib.util.find_spec`.
    """
    for entry in sys.path:
        base = os.path.join(entry or ".", name)
        if os.path.isdir(base) or os.path.isfile(base + ".py"):
            return entry or "."
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return None
    return os.path.dirname(os.path.dirname(spec.origin))


def _distribution_version(name: str) -> str:
    """The version in the ``NAME-VERSION.dist-info`` directory next to package *name*.

    Reading the directory name is a few stat calls; ``importlib.metadata.version`` walks
    every distribution on ``sys.path`` and costs more than the rest of ``--version``.
    """
    site = _package_site(name)
    if site is None:
        return "not installed"
    prefix, suffix = f"{name}-", ".dist-info"
    try:
        listing = sorted(os.listdir(site))
    except OSError:
        listing = []
    for entry in listing:
        if entry.startswith(prefix) and entry.endswith(suffix):
            return entry[len(prefix) : -len(suffix)]
    from importlib import metadata  # an egg-info or editable install: the slow way

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _cryptography_openssl() -> str:
    try:
        from cryptography.hazmat.bindings._rust import openssl
    except ImportError:  # pragma: no cover - a cryptography without its binding
        return "unknown"
    text: str = openssl.openssl_version_text()
    return text


def version_text() -> str:
    """The lines ``--version`` prints; the first is ``certbot-like X.Y.Z`` alone."""
    import _ssl  # ssl's C module alone: ssl.py costs more than the rest

    import certbot_like

    package_dir = os.path.dirname(os.path.realpath(certbot_like.__file__))
    python = ".".join(str(part) for part in sys.version_info[:3])
    return "\n".join(
        [
            f"certbot-like {__version__}",
            f"acme {_distribution_version('acme')}, "
            f"cryptography {_distribution_version('cryptography')} "
            f"({_cryptography_openssl()})",
            f"Python {python} ({_ssl.OPENSSL_VERSION}) at {sys.executable}",
            f"Installed in {package_dir}",
        ]
    )
