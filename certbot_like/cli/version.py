"""``certbot-like --version``: the version, the libraries that do the cryptography and the
ACME messages, and where this copy is installed (bug reports and "which one am I running?").

Kept cheap, because scripts call it: versions come from the names of the installed
distributions' dist-info directories (nothing of acme is imported), OpenSSL's from
cryptography's compiled binding and the standard library's ``_ssl``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from certbot_like import __version__


def _distribution_version(name: str) -> str:
    """The version in the ``NAME-VERSION.dist-info`` directory next to package *name*.

    Reading the directory name is a few stat calls; ``importlib.metadata.version`` walks
    every distribution on ``sys.path`` and costs more than the rest of ``--version``.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return "not installed"
    site = Path(spec.origin).parent.parent
    for info in site.glob(f"{name}-*.dist-info"):
        return info.name[len(name) + 1 : -len(".dist-info")]
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

    package_dir = Path(certbot_like.__file__).resolve().parent
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
