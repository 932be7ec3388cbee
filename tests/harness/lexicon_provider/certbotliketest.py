"""A lexicon provider for the tests: the provider boundary, backed by the test BIND.

lexicon has no offline provider, so this one stands in for a DNS hosting API: it speaks
RFC 2136 (dnspython, TSIG) to the BIND the tests start. Everything above it is real: the
dns-lexicon plugin, lexicon's Client, its config resolution and provider discovery. It is
made visible to lexicon as ``lexicon._private.providers.certbotliketest`` by
:mod:`tests.harness.lexicon_site.sitecustomize` (subprocesses) or by adding this directory
to that package's ``__path__`` (in-process tests).

Options: ``auth_server``, ``auth_port``, ``auth_key_name``, ``auth_key_secret`` (a wrong
secret fails :meth:`Provider.authenticate` like a wrong API token would).
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update
from lexicon.exceptions import AuthenticationError
from lexicon.interfaces import Provider as BaseProvider


class Provider(BaseProvider):
    """TXT records in the test BIND through RFC 2136 (what a hosting API would do)."""

    @staticmethod
    def get_nameservers() -> list[str]:
        return []

    @staticmethod
    def configure_parser(parser: ArgumentParser) -> None:
        parser.add_argument("--auth-server", help="address of the DNS server")
        parser.add_argument("--auth-port", help="port of the DNS server")
        parser.add_argument("--auth-key-name", help="TSIG key name")
        parser.add_argument("--auth-key-secret", help="TSIG key secret (base64)")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.server = str(self._get_provider_option("auth_server") or "127.0.0.1")
        self.port = int(self._get_provider_option("auth_port") or 53)
        name = self._get_provider_option("auth_key_name")
        secret = self._get_provider_option("auth_key_secret")
        if not name or not secret:
            raise AuthenticationError("auth_key_name and auth_key_secret are required")
        self.key = dns.tsig.Key(name, secret, dns.tsig.HMAC_SHA256)
        self.ttl = int(self._get_lexicon_option("ttl") or 60)

    def _send(self, message: dns.message.Message) -> dns.message.Message:
        try:
            response = dns.query.tcp(message, self.server, port=self.port, timeout=5)
        except dns.tsig.PeerError as exc:
            raise AuthenticationError(f"the API rejected the credentials: {exc}") from None
        if response.rcode() != dns.rcode.NOERROR:
            raise AuthenticationError(f"the API answered {dns.rcode.to_text(response.rcode())}")
        return response

    def _update(self) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(self.domain, keyring=self.key)

    def authenticate(self) -> None:
        # A prerequisite-only update checks both the zone and the key, changing nothing.
        update = self._update()
        update.present(dns.name.empty, dns.rdatatype.SOA)
        self._send(update)
        self.domain_id = self.domain

    def _txt(self, content: str) -> dns.rdtypes.ANY.TXT.TXT:
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [content.encode()])

    def create_record(self, rtype: str, name: str, content: str) -> bool:
        assert rtype == "TXT"
        update = self._update()
        update.add(self._relative_name(name) or "@", self.ttl, self._txt(content))
        self._send(update)
        return True

    def list_records(
        self, rtype: str | None = None, name: str | None = None, content: str | None = None
    ) -> list[dict[str, Any]]:
        fqdn = self._full_name(name or self.domain)
        query = dns.message.make_query(fqdn, rtype or "TXT")
        response = dns.query.tcp(query, self.server, port=self.port, timeout=5)
        records = []
        for rrset in response.answer:
            for rdata in rrset:
                text = b"".join(rdata.strings).decode()
                if content is None or text == content:
                    records.append(
                        {"id": f"{fqdn}/{text}", "type": "TXT", "name": fqdn, "content": text}
                    )
        return records

    def update_record(
        self,
        identifier: str | None = None,
        rtype: str | None = None,
        name: str | None = None,
        content: str | None = None,
    ) -> bool:
        raise NotImplementedError("not needed for dns-01")

    def delete_record(
        self,
        identifier: str | None = None,
        rtype: str | None = None,
        name: str | None = None,
        content: str | None = None,
    ) -> bool:
        assert rtype == "TXT" and name and content
        update = self._update()
        update.delete(self._relative_name(name) or "@", self._txt(content))
        self._send(update)
        return True
