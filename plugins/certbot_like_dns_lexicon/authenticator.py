"""The dns-lexicon authenticator: TXT records through a lexicon provider's API.

Provider options are resolved in this order: the INI file (``dns_lexicon_<provider>_<option>``
keys or a ``[<provider>]`` section; ``token`` may stand for ``auth_token``), then lexicon's
environment variables (``LEXICON_<PROVIDER>_AUTH_TOKEN``, or the older
``LEXICON_<PROVIDER>_TOKEN``). Every value that may be a secret is registered with the log
scrubber and removed from error messages.

The zone of a record is found with our own SOA walk (through ``--dns-resolver``) and handed
to lexicon, which is told to check it with dnspython rather than guess it from the public
suffix list.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from certbot_like_dns.base import DnsAuthenticator
from certbot_like_dns.credentials import read_credentials

from certbot_like.errors import ConfigError, PluginError
from certbot_like.interfaces import Authenticator, PluginContext

from . import LexiconOptions
from .providers import find_providers, provider_options

logger = logging.getLogger(__name__)

TTL = 120
_DEFAULT_RESOLVER_LOCK = threading.Lock()
"""Serializes the swap of dnspython's default resolver (renew runs lineages in threads)."""
FLAG = "--dns-lexicon-credentials"
PUBLIC_OPTION_WORDS = (
    "username",
    "user",
    "email",
    "region",
    "endpoint",
    "entrypoint",
    "url",
    "server",
    "host",
    "port",
    "zone",
    "view",
    "resource_group",
    "protocol",
    "ttl",
)
"""Option names containing one of these hold no secret; every other value is scrubbed."""


def is_secret_option(option: str) -> bool:
    """Whether the value of provider option *option* must be kept out of logs."""
    return not any(word in option.lower() for word in PUBLIC_OPTION_WORDS)


class LexiconAuthenticator(DnsAuthenticator[LexiconOptions]):
    """dns-01 through dns-lexicon (see :mod:`certbot_like_dns.base` for the mechanics)."""

    plugin_name = "dns-lexicon"

    def __init__(self, options: LexiconOptions, context: PluginContext) -> None:
        super().__init__(options, context)
        self.provider = ""
        self.provider_options: dict[str, str] = {}
        self._known: tuple[str, ...] = ()
        self._secrets: set[str] = set()
        self._zones: dict[str, str] = {}

    # -- configuration ----------------------------------------------------------------------

    def setup(self) -> None:
        """Check the provider exists here and read its options.

        Raises:
            PluginError: no or unknown provider, or its extra dependencies are missing.
            ConfigError: the credentials file is invalid or names unknown options.
        """
        provider = (self.options.dns_lexicon_provider or "").strip().lower()
        if not provider:
            raise PluginError(
                "The dns-lexicon plugin needs --dns-lexicon-provider NAME",
                "The provider names are listed in docs/dns.md",
            )
        self.use_provider(provider)
        if self.options.dns_lexicon_credentials:
            self.provider_options = self._read_ini(self.options.dns_lexicon_credentials)
        logger.debug(
            "dns-lexicon: provider %s, options from the file: %s",
            provider,
            ", ".join(sorted(self.provider_options)) or "none",
        )

    def use_provider(self, provider: str) -> None:
        """Check lexicon has *provider* with its dependencies, and scrub its environment.

        Raises:
            PluginError: unknown provider, or its extra dependencies are missing.
        """
        providers = find_providers()
        if provider not in providers:
            close = difflib.get_close_matches(provider, list(providers), n=3)
            raise PluginError(
                f"dns-lexicon has no provider named {provider!r}",
                (f"Did you mean {', '.join(close)}? " if close else "")
                + "The provider names are listed in docs/dns.md",
            )
        try:
            self._known = provider_options(provider) if providers[provider] else ()
        except Exception as exc:  # an extra package missing, or a broken provider module
            logger.debug("lexicon provider %s cannot be loaded: %r", provider, exc)
            providers[provider] = False
        if not providers[provider]:
            raise PluginError(
                f"The lexicon provider {provider} needs extra Python packages",
                f"pip install 'dns-lexicon[{provider}]' into certbot-like's environment",
            )
        self.provider = provider
        prefix = f"LEXICON_{provider.upper()}_"
        for name, value in os.environ.items():
            option = name[len(prefix) :].lower()
            if name.startswith(prefix) and value and is_secret_option(option):
                self._secret(value)

    def _secret(self, value: str) -> None:
        self._secrets.add(value)
        self.context.register_secret(value)

    def _option_name(self, key: str, path: str) -> str:
        key = key.strip().lower().replace("-", "_")
        if key in self._known:
            return key
        if f"auth_{key}" in self._known:
            return f"auth_{key}"
        raise ConfigError(
            f"{path}: the lexicon provider {self.provider} has no option {key!r}",
            "Its options are: " + (", ".join(self._known) or "none"),
        )

    def _read_ini(self, path: str) -> dict[str, str]:
        creds = read_credentials(path, flag=FLAG, warn=self.warn)
        prefix = f"dns_lexicon_{self.provider}_"
        found: dict[str, str] = {}
        for key, value in creds.values.items():
            if key.lower().startswith(prefix):
                found[self._option_name(key[len(prefix) :], path)] = value.strip()
        for section, values in creds.sections.items():
            if section.strip().lower() != self.provider:
                continue
            for key, value in values.items():
                found[self._option_name(key, path)] = value.strip()
        for option, value in found.items():
            if is_secret_option(option):
                self._secret(value)
        return found

    # -- records ----------------------------------------------------------------------------

    def _zone(self, fqdn: str) -> str:
        key = fqdn.lower()
        if key not in self._zones:
            self._zones[key] = self.lookup.zone_for(fqdn)
        return self._zones[key]

    @contextlib.contextmanager
    def _operations(self, zone: str) -> Iterator[Any]:
        """lexicon's operations on *zone*, authenticated with the provider."""
        import dns.resolver
        from lexicon.client import Client
        from lexicon.config import ConfigResolver

        config = ConfigResolver()  # type: ignore[no-untyped-call]
        config.with_dict(
            {
                "provider_name": self.provider,
                "domain": zone,
                "resolve_zone_name": True,
                "ttl": TTL,
                self.provider: dict(self.provider_options),
            }
        )
        config.with_env()
        # lexicon checks the zone with dnspython's default resolver: make it ours
        # (--dns-resolver) while the client is built.
        with _DEFAULT_RESOLVER_LOCK:
            saved = dns.resolver.default_resolver
            dns.resolver.default_resolver = self.lookup.resolver
            try:
                client = Client(config)
            finally:
                dns.resolver.default_resolver = saved
        with client as operations:
            yield operations

    def _fail(self, exc: Exception, doing: str, zone: str) -> PluginError:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = " ".join(text.split())
        if len(text) > 300:
            text = text[:297] + "..."
        return PluginError(
            f"The lexicon provider {self.provider} failed {doing} (zone {zone}): {text}",
            self.credentials_hint(),
        )

    def credentials_hint(self) -> str:
        """What to check when the provider fails (the hint of its one-line error)."""
        return (
            f"Check the provider's options (dns_lexicon_{self.provider}_... in {FLAG} or "
            f"LEXICON_{self.provider.upper()}_... variables; see docs/dns.md)"
        )

    def add_txt(self, domain: str, fqdn: str, value: str) -> None:
        """Create the TXT record *value* at *fqdn* through the provider.

        Raises:
            PluginError: the zone cannot be found or the provider failed.
        """
        zone = self._zone(fqdn)
        try:
            with self._operations(zone) as operations:
                operations.create_record("TXT", fqdn, value)
        except PluginError:
            raise
        except Exception as exc:
            raise self._fail(exc, f"to add a TXT record at {fqdn}", zone) from None

    def del_txt(self, domain: str, fqdn: str, value: str) -> None:
        """Delete the TXT record *value* at *fqdn* through the provider.

        Raises:
            PluginError: the zone cannot be found or the provider failed.
        """
        zone = self._zone(fqdn)
        try:
            with self._operations(zone) as operations:
                operations.delete_record(None, "TXT", fqdn, value)
        except PluginError:
            raise
        except Exception as exc:
            raise self._fail(exc, f"to delete the TXT record at {fqdn}", zone) from None


# The plugin's contract, checked by mypy: instances of LexiconAuthenticator are authenticators.
_authenticator: type[Authenticator] = LexiconAuthenticator
