"""The manual plugin (placeholder: being written)."""

from certbot_like.interfaces import PluginSpec

PLUGIN = PluginSpec(name="manual", description="manual (placeholder)", authenticator=True, installer=False)
