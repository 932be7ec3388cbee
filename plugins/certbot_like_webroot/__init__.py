"""The webroot plugin (placeholder: being written)."""

from certbot_like.interfaces import PluginSpec

PLUGIN = PluginSpec(name="webroot", description="webroot (placeholder)", authenticator=True, installer=False)
