"""The dns-acmedns plugin (placeholder: being written)."""

from certbot_like.interfaces import PluginSpec

PLUGIN = PluginSpec(name="dns-acmedns", description="dns-acmedns (being written)", authenticator=False,
                    installer=False, availability="certbot_like_dns_acmedns:_unavailable")


def _unavailable() -> str:
    return "not written yet"
