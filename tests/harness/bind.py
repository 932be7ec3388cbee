"""A real BIND9 (Debian ``bind9``) for the DNS tests: ``named -g`` on a free loopback port.

Everything lives in a temporary directory: ``named.conf`` (no rndc, no IPv6), one zone file
per zone, the TSIG keys made by ``tsig-keygen`` and the journals that
dynamic updates write. Each zone has ``ns1.<zone>`` as its only nameserver, with the address
127.0.0.1 (the port is not 53: clients are told with ``--dns-nameserver-port``) and a
wildcard A record so every name in it resolves.

Recursion is allowed from 127.0.0.1 only so that, like the CA's recursive resolver in real
life, a query with RD set (Pebble's) follows a CNAME from one of the zones into another;
the tests never ask it about names outside its zones.

Two keys exist: :attr:`Bind.key_name` may update every zone; :attr:`Bind.limited_key_name`
is known to the server but allowed to update no zone (REFUSED).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update

from tests.harness.leaks import register_secret
from tests.harness.servers import (
    _stop,
    free_tcp_udp_port,
    popen_logged,
    require_binary,
    wait_until,
)

DEFAULT_ZONES = ("example.test", "delegated.test")
KEY_NAME = "certbot-like-test."
LIMITED_KEY_NAME = "certbot-like-limited."
ALGORITHM = "hmac-sha256"

ZONE_TEMPLATE = """\
$ORIGIN {zone}.
$TTL 60
@       IN SOA ns1.{zone}. hostmaster.{zone}. ( 1 60 60 3600 30 )
@       IN NS  ns1.{zone}.
@       IN A   127.0.0.1
ns1     IN A   127.0.0.1
*       IN A   127.0.0.1
{extra}
"""


def tsig_secret(name: str, algorithm: str = ALGORITHM) -> str:
    """A fresh base64 TSIG secret made by ``tsig-keygen``.

    Raises:
        ServerMissing: ``tsig-keygen`` (Debian ``bind9-utils``) is not installed.
    """
    binary = require_binary("tsig-keygen")
    out = subprocess.run(
        [binary, "-a", algorithm, name], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r'secret "([^"]+)"', out)
    assert match, out
    return match.group(1)


@dataclass
class Bind:
    """One ``named`` with its own port, keys, zones and log.

    *records* maps a zone to extra zone-file lines (relative names, e.g.
    ``"_acme-challenge.alias CNAME _acme-challenge.target.delegated.test."``).
    """

    workdir: Path
    zones: Sequence[str] = DEFAULT_ZONES
    records: dict[str, list[str]] = field(default_factory=dict)
    key_name: str = KEY_NAME
    limited_key_name: str = LIMITED_KEY_NAME
    algorithm: str = ALGORITHM
    secret: str = ""
    limited_secret: str = ""
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "named.log"

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form ``--dns-resolver`` and Pebble's ``-dnsserver`` take."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Bind:
        """Write the configuration, start ``named -g`` and wait until it answers.

        Raises:
            ServerMissing: ``named`` is not installed (a test failure, never a skip).
            RuntimeError: ``named`` exited or did not answer within 20 s.
        """
        binary = require_binary("named")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secret = self.secret or tsig_secret(self.key_name, self.algorithm)
        self.limited_secret = self.limited_secret or tsig_secret(self.limited_key_name)
        register_secret(self.secret)  # every CLI run's output and log is scanned for them
        register_secret(self.limited_secret)
        self.port = free_tcp_udp_port()
        for zone in self.zones:
            extra = "\n".join(self.records.get(zone, []))
            (self.workdir / f"{zone}.zone").write_text(ZONE_TEMPLATE.format(zone=zone, extra=extra))
        conf = self.workdir / "named.conf"
        conf.write_text(self._named_conf())
        self.proc = popen_logged([binary, "-g", "-c", str(conf)], self.log_path, cwd=self.workdir)
        wait_until(self._answers, 20, "named", self.proc, self.log_path)
        return self

    def _named_conf(self) -> str:
        work = self.workdir
        zones = "".join(
            f'zone "{zone}" {{ type primary; file "{work}/{zone}.zone"; '
            f'allow-update {{ key "{self.key_name}"; }}; }};\n'
            for zone in self.zones
        )
        return (
            "options {\n"
            f'  directory "{work}";\n'
            f'  pid-file "{work}/named.pid";\n'
            f'  session-keyfile "{work}/session.key";\n'
            f'  managed-keys-directory "{work}";\n'
            f"  listen-on port {self.port} {{ 127.0.0.1; }};\n"
            "  listen-on-v6 { none; };\n"
            "  recursion yes;\n"
            "  allow-recursion { 127.0.0.1; };\n"
            "  dnssec-validation no;\n"
            "  notify no;\n"
            "  allow-transfer { none; };\n"
            "};\n"
            "controls { };\n"
            f'key "{self.key_name}" {{ algorithm {self.algorithm}; secret "{self.secret}"; }};\n'
            f'key "{self.limited_key_name}" {{ algorithm {ALGORITHM}; '
            f'secret "{self.limited_secret}"; }};\n'
            "logging { channel default_stderr { stderr; severity info; }; "
            "category default { default_stderr; }; };\n" + zones
        )

    def _answers(self) -> bool:
        query = dns.message.make_query(self.zones[0], dns.rdatatype.SOA)
        try:
            response = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
        except dns.exception.Timeout:
            return False
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    def stop(self) -> None:
        _stop(self.proc)

    # -- what the tests look at ---------------------------------------------------------------

    def query(self, name: str, rdtype: str = "TXT") -> dns.message.Message:
        """Ask this server directly (no recursion) for *name*."""
        query = dns.message.make_query(name, rdtype)
        return dns.query.tcp(query, "127.0.0.1", port=self.port, timeout=5)

    def txt(self, name: str) -> set[str]:
        """The TXT values at *name* (not following CNAMEs), as the CA would read them."""
        response = self.query(name)
        owner = dns.name.from_text(name)
        values: set[str] = set()
        for rrset in response.answer:
            if rrset.name == owner and rrset.rdtype == dns.rdatatype.TXT:
                values |= {b"".join(r.strings).decode() for r in rrset}
        return values

    def update(
        self,
        zone: str,
        *,
        add: Iterable[tuple[str, str, str]] = (),
        delete: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Change *zone* with RFC 2136: ``add`` of (name, type, value), ``delete`` of (name, type).

        Raises:
            AssertionError: the server did not answer NOERROR.
        """
        keyring = dns.tsigkeyring.from_text({self.key_name: self.secret})
        update = dns.update.UpdateMessage(zone, keyring=keyring, keyalgorithm=self.algorithm)
        origin = dns.name.from_text(zone)
        for name, rdtype in delete:
            update.delete(dns.name.from_text(name).relativize(origin), rdtype)
        for name, rdtype, value in add:
            update.add(dns.name.from_text(name).relativize(origin), 60, rdtype, value)
        response = dns.query.tcp(update, "127.0.0.1", port=self.port, timeout=5)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())

    def credentials(
        self,
        path: Path,
        *,
        secret: str | None = None,
        key_name: str | None = None,
        mode: int = 0o600,
        extra: str = "",
    ) -> Path:
        """Write a certbot-dns-rfc2136 credentials INI for this server at *path*."""
        path.write_text(
            "# certbot-dns-rfc2136 credentials\n"
            "dns_rfc2136_server = 127.0.0.1\n"
            f"dns_rfc2136_port = {self.port}\n"
            f"dns_rfc2136_name = {key_name or self.key_name}\n"
            f"dns_rfc2136_secret = {secret if secret is not None else self.secret}\n"
            f"dns_rfc2136_algorithm = {self.algorithm.upper()}\n" + extra
        )
        os.chmod(path, mode)
        return path

    def lookup_args(self) -> list[str]:
        """The flags that make certbot-like look up and check names on this server."""
        return ["--dns-resolver", self.address, "--dns-nameserver-port", str(self.port)]
