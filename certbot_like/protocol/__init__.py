"""The ACME protocol (RFC 8555 and extensions): the only layer that talks to a CA."""
