"""The nginx plugin (placeholder: being written)."""

from certbot_like.interfaces import PluginSpec

PLUGIN = PluginSpec(name="nginx", description="nginx (being written)", authenticator=False,
                    installer=False, availability="certbot_like_nginx:_unavailable")


def _unavailable() -> str:
    return "not written yet"
