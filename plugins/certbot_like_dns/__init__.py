"""Shared DNS-01 machinery for DNS authenticator plugins (placeholder: being written)."""
