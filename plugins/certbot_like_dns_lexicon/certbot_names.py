"""certbot's DNS plugins (``dns-cloudflare``, ``dns-route53`` ...) as names of lexicon providers.

A lineage made with ``certbot-dns-cloudflare`` has ``authenticator = dns-cloudflare`` and
``dns_cloudflare_credentials = /root/cf.ini`` in its renewal conf, and its credentials file
has certbot's keys (``dns_cloudflare_api_token``). Each plugin here keeps those names: the
plugin name, the flags (``--dns-cloudflare``, ``--dns-cloudflare-credentials``,
``--dns-cloudflare-propagation-seconds``), the renewal conf keys and the credentials keys;
the credentials keys are mapped onto the options of the lexicon provider certbot's plugin
itself uses (:data:`CERTBOT_PLUGINS`), so such a lineage renews unchanged and the renewal
conf written afterwards is still certbot's.

This module is imported to build ``--help``: it holds the table, the options dataclasses and
the pure mapping; the authenticator lives in :mod:`.certbot_auth`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from certbot_like_dns import DnsOptions, absolute_paths

from certbot_like.errors import ConfigError
from certbot_like.interfaces import DNS01, PluginSpec, option

__all__ = ["CERTBOT_PLUGINS", "CertbotDnsPlugin", "by_name", "lexicon_options"]


@dataclass(frozen=True)
class CertbotDnsPlugin:
    """One certbot DNS plugin and the lexicon provider behind it.

    ``keys`` maps certbot's credentials keys (without the ``dns_<plugin>_`` prefix) to the
    lexicon provider's options; ``public`` names the keys whose values are not secrets.
    ``credentials`` is ``"ini"`` (certbot's INI file), ``"json"`` (dns-google's service
    account file) or ``""`` (no credentials option: dns-route53 uses boto3's own sources).
    """

    name: str
    provider: str
    label: str
    keys: tuple[tuple[str, str], ...]
    default_propagation: int
    credentials: str = "ini"
    public: tuple[str, ...] = ()
    extra_package: str = ""

    @property
    def prefix(self) -> str:
        """``dns_cloudflare_``: the prefix of certbot's keys and conf fields."""
        return self.name.replace("-", "_") + "_"

    def key(self, short: str) -> str:
        """The full credentials key, ``dns_cloudflare_api_token`` for ``api_token``."""
        return self.prefix + short


CERTBOT_PLUGINS: tuple[CertbotDnsPlugin, ...] = (
    CertbotDnsPlugin(
        "dns-cloudflare",
        "cloudflare",
        "Cloudflare",
        (("api_token", "auth_token"), ("email", "auth_username"), ("api_key", "auth_token")),
        10,
        public=("email",),
    ),
    CertbotDnsPlugin(
        "dns-digitalocean", "digitalocean", "DigitalOcean", (("token", "auth_token"),), 10
    ),
    CertbotDnsPlugin("dns-dnsimple", "dnsimple", "DNSimple", (("token", "auth_token"),), 30),
    CertbotDnsPlugin(
        "dns-dnsmadeeasy",
        "dnsmadeeasy",
        "DNS Made Easy",
        (("api_key", "auth_username"), ("secret_key", "auth_token")),
        60,
    ),
    CertbotDnsPlugin(
        "dns-gehirn",
        "gehirn",
        "Gehirn Infrastructure Service",
        (("api_token", "auth_token"), ("api_secret", "auth_secret")),
        30,
    ),
    CertbotDnsPlugin(
        "dns-google",
        "googleclouddns",
        "Google Cloud DNS",
        (),
        60,
        credentials="json",
    ),
    CertbotDnsPlugin("dns-linode", "linode4", "Linode", (("key", "auth_token"),), 120),
    CertbotDnsPlugin(
        "dns-luadns",
        "luadns",
        "LuaDNS",
        (("email", "auth_username"), ("token", "auth_token")),
        30,
        public=("email",),
    ),
    CertbotDnsPlugin("dns-nsone", "nsone", "NS1", (("api_key", "auth_token"),), 30),
    CertbotDnsPlugin(
        "dns-ovh",
        "ovh",
        "OVH",
        (
            ("endpoint", "auth_entrypoint"),
            ("application_key", "auth_application_key"),
            ("application_secret", "auth_application_secret"),
            ("consumer_key", "auth_consumer_key"),
        ),
        120,
        public=("endpoint",),
    ),
    CertbotDnsPlugin(
        "dns-route53", "route53", "Amazon Route 53", (), 0, credentials="", extra_package="boto3"
    ),
    CertbotDnsPlugin(
        "dns-sakuracloud",
        "sakuracloud",
        "Sakura Cloud",
        (("api_token", "auth_token"), ("api_secret", "auth_secret")),
        90,
    ),
)
"""certbot 5.8's DNS plugins, with the keys their ``_internal/dns_<name>.py`` reads."""


def by_name(name: str) -> CertbotDnsPlugin:
    """The plugin called *name* (``dns-cloudflare``).

    Raises:
        KeyError: not one of :data:`CERTBOT_PLUGINS`.
    """
    for plugin in CERTBOT_PLUGINS:
        if plugin.name == name:
            return plugin
    raise KeyError(name)


def _missing(plugin: CertbotDnsPlugin, path: str, needed: str) -> ConfigError:
    return ConfigError(
        f"{path} has no {needed} (the {plugin.name} credentials file)",
        f"Add {needed} = ... as for certbot-{plugin.name} (see docs/dns.md)",
    )


def lexicon_options(
    plugin: CertbotDnsPlugin, values: Mapping[str, str], path: str
) -> dict[str, str]:
    """The lexicon provider options for the certbot credentials *values* read from *path*.

    Keys of other plugins are ignored (certbot's files may be shared); every key of the
    plugin is required, except for dns-cloudflare where ``api_token`` or ``email`` and
    ``api_key`` are (as certbot-dns-cloudflare checks).

    Raises:
        ConfigError: a required key is missing or empty, or cloudflare's keys are mixed.
    """
    given = {
        key[len(plugin.prefix) :]: value.strip()
        for key, value in values.items()
        if key.startswith(plugin.prefix) and value.strip()
    }
    if plugin.name == "dns-cloudflare":
        token, email, key = (given.get(k) for k in ("api_token", "email", "api_key"))
        if token and (email or key):
            raise ConfigError(
                f"{path}: dns_cloudflare_email and dns_cloudflare_api_key are not needed "
                "with an API token (dns_cloudflare_api_token)",
                "Keep either the token or the e-mail address and global API key",
            )
        if token:
            return {"auth_token": token}
        if not email and not key:
            raise _missing(plugin, path, "dns_cloudflare_api_token")
        if not email:
            raise _missing(plugin, path, "dns_cloudflare_email")
        if not key:
            raise _missing(plugin, path, "dns_cloudflare_api_key")
        return {"auth_username": email, "auth_token": key}
    options: dict[str, str] = {}
    for short, lexicon in plugin.keys:
        if short not in given:
            raise _missing(plugin, path, plugin.key(short))
        options[lexicon] = given[short]
    return options


def secret_values(plugin: CertbotDnsPlugin, values: Mapping[str, str]) -> list[str]:
    """The values of *values* that are secrets (the plugin's keys but its public ones)."""
    secret = {plugin.key(short) for short, _ in plugin.keys if short not in plugin.public}
    return [value.strip() for key, value in values.items() if key in secret and value.strip()]


def _options_class(plugin: CertbotDnsPlugin) -> type[Any]:
    """The options dataclass of *plugin*: certbot's fields, plus the shared DNS options."""
    flag = "--" + plugin.name
    field_prefix = plugin.prefix
    fields: list[tuple[str, Any, Any]] = []
    if plugin.credentials == "ini":
        keys = ", ".join(plugin.key(short) for short, _ in plugin.keys)
        if plugin.name == "dns-cloudflare":
            keys = "dns_cloudflare_api_token, or dns_cloudflare_email and dns_cloudflare_api_key"
        fields.append(
            (
                field_prefix + "credentials",
                str | None,
                option(
                    flag + "-credentials",
                    metavar="FILE",
                    help=f"{plugin.label} credentials INI file of certbot-{plugin.name} "
                    f"({keys}); mode 0600",
                ),
            )
        )
    elif plugin.credentials == "json":
        fields.append(
            (
                field_prefix + "credentials",
                str | None,
                option(
                    flag + "-credentials",
                    metavar="FILE",
                    help="Google Cloud service account JSON file (required here: Application "
                    "Default Credentials are not supported); mode 0600",
                ),
            )
        )
        fields.append(
            (
                field_prefix + "project",
                str | None,
                option(
                    flag + "-project",
                    metavar="ID",
                    help="Google Cloud project of the zones (accepted as certbot does; the "
                    "project of the service account file is used)",
                ),
            )
        )
    if plugin.credentials:
        fields.append(
            (
                field_prefix + "propagation_seconds",
                int | None,
                option(
                    flag + "-propagation-seconds",
                    metavar="SECONDS",
                    help="Wait this many seconds after the change instead of checking the "
                    f"zone's nameservers (certbot waits {plugin.default_propagation} by "
                    "default; here the default is to check, see --dns-propagation-timeout)",
                ),
            )
        )
    cls = dataclasses.make_dataclass(
        "Certbot" + plugin.provider.capitalize() + "Options",
        fields,
        bases=(DnsOptions,),
        frozen=True,
        namespace={"certbot_plugin": plugin.name, "__module__": __name__},
    )
    return cls


def _spec(plugin: CertbotDnsPlugin) -> PluginSpec:
    availability = "certbot_like_dns_lexicon:unavailable_reason"
    if plugin.extra_package:
        availability = f"{__name__}:route53_unavailable"
    return PluginSpec(
        name=plugin.name,
        description=f"Answer dns-01 through the {plugin.label} API, as certbot's "
        f"certbot-{plugin.name} plugin (lexicon provider {plugin.provider})",
        authenticator=True,
        installer=False,
        options=_options_class(plugin),
        factory="certbot_like_dns_lexicon.certbot_auth:create",
        availability=availability,
        resolve_options=absolute_paths(plugin.prefix + "credentials")
        if plugin.credentials
        else None,
        challenge_types=(DNS01,),
    )


def route53_unavailable() -> str | None:
    """``None`` when lexicon's route53 provider (boto3) can be imported."""
    import importlib.util

    if importlib.util.find_spec("boto3") is None:
        return "boto3 is not installed; pip install 'dns-lexicon[route53]'"
    from certbot_like_dns_lexicon import unavailable_reason

    return unavailable_reason()


SPECS: dict[str, PluginSpec] = {plugin.name: _spec(plugin) for plugin in CERTBOT_PLUGINS}
CLOUDFLARE = SPECS["dns-cloudflare"]
DIGITALOCEAN = SPECS["dns-digitalocean"]
DNSIMPLE = SPECS["dns-dnsimple"]
DNSMADEEASY = SPECS["dns-dnsmadeeasy"]
GEHIRN = SPECS["dns-gehirn"]
GOOGLE = SPECS["dns-google"]
LINODE = SPECS["dns-linode"]
LUADNS = SPECS["dns-luadns"]
NSONE = SPECS["dns-nsone"]
OVH = SPECS["dns-ovh"]
ROUTE53 = SPECS["dns-route53"]
SAKURACLOUD = SPECS["dns-sakuracloud"]
