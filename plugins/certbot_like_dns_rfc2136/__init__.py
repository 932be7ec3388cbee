"""The dns-rfc2136 plugin (placeholder: being written)."""

from certbot_like.interfaces import PluginSpec

PLUGIN = PluginSpec(name="dns-rfc2136", description="dns-rfc2136 (being written)", authenticator=False,
                    installer=False, availability="certbot_like_dns_rfc2136:_unavailable")


def _unavailable() -> str:
    return "not written yet"
