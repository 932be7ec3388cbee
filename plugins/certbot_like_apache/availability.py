"""Whether the apache plugin can run on this machine (shown by ``certbot-like plugins``)."""

from __future__ import annotations

import os
import shutil

COMMANDS = ("apache2ctl", "apachectl", "apache2", "httpd")


def unavailable_reason() -> str | None:
    """``None`` when Apache and python-augeas are installed, else what is missing."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    if not any(shutil.which(command, path=path) for command in COMMANDS):
        return "Apache is not installed (no apache2ctl, apachectl, apache2 or httpd)"
    from certbot_like.plugin_kit import EXTRAS

    extra = EXTRAS["apache"]
    if not extra.installed():
        return extra.missing_message()
    try:
        import augeas  # noqa: F401
    except Exception as exc:  # the C library missing under it
        return f"python-augeas is not usable ({exc}); install libaugeas0 (Debian's package)"
    return None
