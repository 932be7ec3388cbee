"""The dns-rfc2136 authenticator: TSIG-signed RFC 2136 updates with dnspython.

The zone of each record is found by walking SOA queries up from the record's name on the
configured server (signed when ``dns_rfc2136_sign_query`` is true), as certbot-dns-rfc2136
does. Updates go over TCP. Every failure the server can answer with (NOTAUTH, REFUSED, the
TSIG errors BADKEY/BADSIG/BADTIME) or a timeout becomes one line naming the server and the
zone; the TSIG secret is registered with the log scrubber and never put in a message.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update
from certbot_like_dns.base import DnsAuthenticator
from certbot_like_dns.credentials import Credentials, read_credentials
from certbot_like_dns.lookup import reason

from certbot_like.errors import ConfigError, PluginError
from certbot_like.interfaces import Authenticator, PluginContext

from . import Rfc2136Options

logger = logging.getLogger(__name__)

ALGORITHMS: dict[str, dns.name.Name] = {
    "HMAC-MD5": dns.tsig.HMAC_MD5,
    "HMAC-SHA1": dns.tsig.HMAC_SHA1,
    "HMAC-SHA224": dns.tsig.HMAC_SHA224,
    "HMAC-SHA256": dns.tsig.HMAC_SHA256,
    "HMAC-SHA384": dns.tsig.HMAC_SHA384,
    "HMAC-SHA512": dns.tsig.HMAC_SHA512,
}
DEFAULT_ALGORITHM = "HMAC-MD5"
"""certbot-dns-rfc2136's default, kept so that its credentials files mean the same here."""
TTL = 60
TIMEOUT = 10.0
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
FLAG = "--dns-rfc2136-credentials"


@dataclass(frozen=True)
class Rfc2136Config:
    """What the credentials file says: the server, the TSIG key and whether to sign SOA
    queries. ``secret`` is base64 and never printed (``repr`` leaves it out)."""

    path: Path
    server: str
    port: int
    key_name: str
    algorithm: str
    sign_query: bool
    secret: str = field(repr=False)

    @property
    def endpoint(self) -> str:
        """``server:port`` (``[v6]:port``) for messages."""
        host = f"[{self.server}]" if ":" in self.server else self.server
        return f"{host}:{self.port}"


def _server_address(value: str, path: Path) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    try:
        return str(socket.getaddrinfo(value, 53, proto=socket.IPPROTO_TCP)[0][4][0])
    except (OSError, UnicodeError):
        raise ConfigError(
            f"{path}: dns_rfc2136_server {value!r} is neither an IP address nor a name "
            "that resolves",
            "Give the IP address of the primary DNS server",
        ) from None


def load_config(creds: Credentials) -> Rfc2136Config:
    """Check and convert the keys of a certbot-dns-rfc2136 credentials file.

    Raises:
        ConfigError: a key is missing or invalid (the message names the key, never the
            secret's value).
    """
    path = creds.path
    server = _server_address(
        creds.require("dns_rfc2136_server", "the IP address of the DNS server"), path
    )
    port_text = creds.get("dns_rfc2136_port", "53") or "53"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{path}: dns_rfc2136_port {port_text!r} is not a port number")
    key_name = creds.require("dns_rfc2136_name", "the TSIG key name")
    secret = creds.require("dns_rfc2136_secret", "the TSIG key secret, base64")
    try:
        base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"{path}: dns_rfc2136_secret is not valid base64",
            "Copy the secret exactly as tsig-keygen printed it",
        ) from None
    algorithm = (creds.get("dns_rfc2136_algorithm", DEFAULT_ALGORITHM) or "").upper()
    algorithm = algorithm.rstrip(".")
    if algorithm not in ALGORITHMS:
        raise ConfigError(
            f"{path}: unknown dns_rfc2136_algorithm {algorithm!r}",
            "Use one of " + ", ".join(ALGORITHMS),
        )
    sign_text = (creds.get("dns_rfc2136_sign_query", "false") or "false").lower()
    if sign_text not in _TRUE | _FALSE:
        raise ConfigError(f"{path}: dns_rfc2136_sign_query must be true or false")
    return Rfc2136Config(
        path=path,
        server=server,
        port=int(port_text),
        key_name=key_name,
        algorithm=algorithm,
        sign_query=sign_text in _TRUE,
        secret=secret,
    )


class Rfc2136Client:
    """Finds zones and adds/removes TXT records on one server with one TSIG key."""

    def __init__(self, config: Rfc2136Config, *, timeout: float = TIMEOUT) -> None:
        self.config = config
        self.timeout = timeout
        self._key = dns.tsig.Key(config.key_name, config.secret, ALGORITHMS[config.algorithm])

    def find_zone(self, fqdn: str) -> str:
        """The zone holding *fqdn* on this server: the closest name with an authoritative SOA.

        Raises:
            PluginError: the server serves no zone containing *fqdn*, or failed.
        """
        name = dns.name.from_text(fqdn)
        doing = f"while looking up the zone of {fqdn}"
        while len(name.labels) > 1:
            query = dns.message.make_query(name, dns.rdatatype.SOA)
            query.flags &= ~dns.flags.RD
            if self.config.sign_query:
                query.use_tsig(self._key)
            response = self._exchange(query, doing, zone=None)
            if (
                response.rcode() == dns.rcode.NOERROR
                and response.flags & dns.flags.AA
                and response.get_rrset(response.answer, name, dns.rdataclass.IN, dns.rdatatype.SOA)
            ):
                return str(name.to_text(omit_final_dot=True))
            name = name.parent()
        raise PluginError(
            f"The DNS server {self.config.endpoint} is authoritative for no zone containing {fqdn}",
            f"Check dns_rfc2136_server in {self.config.path}, or delegate the "
            "_acme-challenge name by CNAME to a zone it serves",
        )

    def add(self, zone: str, fqdn: str, value: str, ttl: int = TTL) -> None:
        """Add the TXT record *value* at *fqdn* in *zone*.

        Raises:
            PluginError: the server refused or did not answer (one line).
        """
        update = dns.update.UpdateMessage(zone, keyring=self._key)
        update.add(self._relative(zone, fqdn), ttl, self._txt(value))
        self._exchange(update, f"while adding a TXT record at {fqdn}", zone=zone)

    def delete(self, zone: str, fqdn: str, value: str) -> None:
        """Delete the TXT record *value* at *fqdn* (other values stay).

        Raises:
            PluginError: the server refused or did not answer (one line).
        """
        update = dns.update.UpdateMessage(zone, keyring=self._key)
        update.delete(self._relative(zone, fqdn), self._txt(value))
        self._exchange(update, f"while deleting a TXT record at {fqdn}", zone=zone)

    @staticmethod
    def _relative(zone: str, fqdn: str) -> dns.name.Name:
        return dns.name.from_text(fqdn).relativize(dns.name.from_text(zone))

    @staticmethod
    def _txt(value: str) -> dns.rdtypes.ANY.TXT.TXT:
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()])

    def _exchange(
        self, message: dns.message.Message, doing: str, *, zone: str | None
    ) -> dns.message.Message:
        """Send *message* over TCP. Updates (``zone`` given) must come back NOERROR.

        Raises:
            PluginError: a TSIG error, a timeout, an unreachable server, or an update
                answered with anything but NOERROR.
        """
        cfg = self.config
        server = f"The DNS server {cfg.endpoint}"
        where = f"{doing} in zone {zone}" if zone else doing
        key = f"{cfg.key_name} ({cfg.algorithm})"
        try:
            response = dns.query.tcp(message, cfg.server, port=cfg.port, timeout=self.timeout)
        except dns.tsig.PeerBadKey:
            raise PluginError(
                f"{server} does not know the TSIG key {key} (BADKEY) {where}",
                f"Check dns_rfc2136_name and dns_rfc2136_algorithm in {cfg.path}",
            ) from None
        except dns.tsig.PeerBadSignature:
            raise PluginError(
                f"{server} rejected the signature of TSIG key {cfg.key_name} (BADSIG: wrong "
                f"secret) {where}",
                f"Check dns_rfc2136_secret in {cfg.path}",
            ) from None
        except dns.tsig.PeerBadTime:
            raise PluginError(
                f"{server} rejected the time of the TSIG signature (BADTIME) {where}",
                "Synchronize the clocks of this machine and the DNS server",
            ) from None
        except dns.exception.Timeout:
            raise PluginError(
                f"No answer from the DNS server {cfg.endpoint} within {self.timeout:g} s {where}",
                f"Check dns_rfc2136_server and dns_rfc2136_port in {cfg.path}, and that TCP "
                f"port {cfg.port} is reachable",
            ) from None
        except OSError as exc:
            raise PluginError(
                f"Cannot reach the DNS server {cfg.endpoint} {where}: {reason(exc)}",
                f"Check dns_rfc2136_server and dns_rfc2136_port in {cfg.path}",
            ) from None
        except dns.exception.DNSException as exc:  # bad TSIG on the answer, malformed answer
            raise PluginError(
                f"Bad answer from the DNS server {cfg.endpoint} {where}: "
                f"{type(exc).__name__}: {reason(exc)}",
                f"Check the key settings in {cfg.path}",
            ) from None
        rcode = response.rcode()
        if zone is None or rcode == dns.rcode.NOERROR:
            return response
        if rcode == dns.rcode.NOTAUTH:
            raise PluginError(
                f"{server} is not authoritative for zone {zone} (NOTAUTH) {doing}",
                "Send updates to the primary server of the zone (dns_rfc2136_server), or "
                "check that the key may update it",
            )
        if rcode == dns.rcode.REFUSED:
            raise PluginError(
                f"{server} refused the update of zone {zone} with TSIG key {cfg.key_name} "
                f"(REFUSED) {doing}",
                f'Allow the key to update the zone (BIND: allow-update {{ key "{cfg.key_name}"; }}'
                " or an update-policy)",
            )
        raise PluginError(
            f"{server} answered {dns.rcode.to_text(rcode)} {where}",
            "See the DNS server's log",
        )


class Rfc2136Authenticator(DnsAuthenticator[Rfc2136Options]):
    """dns-01 through RFC 2136 updates (see :mod:`certbot_like_dns.base` for the mechanics)."""

    plugin_name = "dns-rfc2136"

    def __init__(self, options: Rfc2136Options, context: PluginContext) -> None:
        super().__init__(options, context)
        self.client: Rfc2136Client | None = None
        self._zones: dict[str, str] = {}

    def setup(self) -> None:
        """Read and check the credentials file.

        Raises:
            PluginError: no ``--dns-rfc2136-credentials`` was given.
            ConfigError: the file is missing, unreadable or invalid.
        """
        path = self.options.dns_rfc2136_credentials
        if not path:
            raise PluginError(
                f"The dns-rfc2136 plugin needs {FLAG} FILE",
                "Write dns_rfc2136_server, _name and _secret into an INI file, chmod 600 "
                "(see docs/dns.md)",
            )
        creds = read_credentials(
            path,
            flag=FLAG,
            secret_keys=("dns_rfc2136_secret",),
            register_secret=self.context.register_secret,
            warn=self.warn,
        )
        config = load_config(creds)
        logger.debug("dns-rfc2136: server %s, key %s", config.endpoint, config.key_name)
        self.client = Rfc2136Client(config)

    def _zone(self, client: Rfc2136Client, fqdn: str) -> str:
        key = fqdn.lower()
        if key not in self._zones:
            self._zones[key] = client.find_zone(fqdn)
        return self._zones[key]

    def _client(self) -> Rfc2136Client:
        if self.client is None:
            self.setup()
        assert self.client is not None
        return self.client

    def add_txt(self, domain: str, fqdn: str, value: str) -> None:
        """Add *value* at *fqdn* in its zone on the server.

        Raises:
            PluginError: the zone cannot be found or the update failed.
        """
        client = self._client()
        client.add(self._zone(client, fqdn), fqdn, value)

    def del_txt(self, domain: str, fqdn: str, value: str) -> None:
        """Delete *value* at *fqdn*.

        Raises:
            PluginError: the zone cannot be found or the update failed.
        """
        client = self._client()
        client.delete(self._zone(client, fqdn), fqdn, value)


# The plugin's contract, checked by mypy: instances of Rfc2136Authenticator are authenticators.
_authenticator: type[Authenticator] = Rfc2136Authenticator
