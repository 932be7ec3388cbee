"""The dns-lexicon plugin (placeholder: being written)."""

from certbot_like.interfaces import PluginSpec

PLUGIN = PluginSpec(name="dns-lexicon", description="dns-lexicon (being written)", authenticator=False,
                    installer=False, availability="certbot_like_dns_lexicon:_unavailable")


def _unavailable() -> str:
    return "not written yet"
