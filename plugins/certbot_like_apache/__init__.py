"""The apache plugin (placeholder: being written)."""

from certbot_like.interfaces import PluginSpec

PLUGIN = PluginSpec(name="apache", description="apache (being written)", authenticator=False,
                    installer=False, availability="certbot_like_apache:_unavailable")


def _unavailable() -> str:
    return "not written yet"
