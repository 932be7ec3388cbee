"""certbot-like: a fast, safe ACME client compatible with certbot's storage and flags."""

__version__ = "0.1.0"
