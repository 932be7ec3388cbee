"""Whether the nginx plugin can run on this machine (shown by ``certbot-like plugins``)."""

from __future__ import annotations

import shutil

SBIN_PATH = "/usr/sbin:/sbin:/usr/local/sbin:/usr/local/nginx/sbin"


def find_nginx() -> str | None:
    """The path of the ``nginx`` binary on ``PATH`` or in the usual sbin directories."""
    return shutil.which("nginx") or shutil.which("nginx", path=SBIN_PATH)


def unavailable_reason() -> str | None:
    """``None`` when an nginx binary is installed, else why the plugin cannot run."""
    if find_nginx() is None:
        return "nginx is not installed (no nginx binary on PATH or in /usr/sbin)"
    return None
