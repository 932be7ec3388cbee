"""The standalone plugin (placeholder: being written)."""

from certbot_like.interfaces import PluginSpec

PLUGIN = PluginSpec(name="standalone", description="standalone (placeholder)", authenticator=True, installer=False)
