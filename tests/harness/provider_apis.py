"""Fakes of DNS hosting APIs (Cloudflare, DigitalOcean, DNSimple, Route 53) at the HTTP layer.

The certbot-like process under test runs lexicon's real provider code; the
``sitecustomize`` in ``tests/harness/lexicon_site`` sends its HTTPS requests for the
providers' API hosts to this server instead (plain HTTP on loopback, the original host in
an ``X-Fake-Host`` header); boto3 is pointed at it with ``AWS_ENDPOINT_URL_ROUTE_53`` (see
:mod:`.route53_api`). The server answers with the paths, status codes and JSON bodies
of the providers' documented APIs (the shapes lexicon's recorded cassettes hold), checks the
credentials the way the provider would (a wrong token is a 401/403 with the provider's error
body), and writes every TXT record into the test BIND with RFC 2136 so that Pebble, which
resolves through that BIND, sees what the "provider" published.

Every request is kept (:attr:`ProviderApis.requests`) for the tests to assert on.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsigkeyring
import dns.update

from tests.harness import route53_api
from tests.harness.bind import Bind

HOSTS = {
    "api.cloudflare.com": "cloudflare",
    "api.digitalocean.com": "digitalocean",
    "api.dnsimple.com": "dnsimple",
}
ENV_VARIABLE = "CERTBOT_LIKE_TEST_PROVIDER_API"
"""Set to ``http://127.0.0.1:PORT`` in the environment of the process under test."""
DNSIMPLE_ACCOUNT = 1385


@dataclass(frozen=True)
class Seen:
    """One request the fake received."""

    provider: str
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Record:
    id: str
    zone: str
    name: str  # fully qualified, no trailing dot
    content: str
    ttl: int


@dataclass
class ProviderApis:
    """The fake APIs, backed by *bind*; ``tokens`` maps a provider to its accepted token."""

    bind: Bind
    tokens: dict[str, str] = field(default_factory=dict)
    cloudflare_global_key: tuple[str, str] | None = None
    requests: list[Seen] = field(default_factory=list)
    records: dict[str, Record] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ProviderApis:
        apis = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                provider = HOSTS.get(self.headers.get("X-Fake-Host", ""), "")
                if self.path.startswith(route53_api.PREFIX):
                    provider = "route53"
                seen = Seen(provider, self.command, self.path, dict(self.headers), body)
                with apis._lock:
                    apis.requests.append(seen)
                    status, payload = apis.answer(seen)
                if isinstance(payload, bytes):
                    data, kind = payload, "text/xml"
                else:
                    data, kind = (
                        (b"" if payload is None else json.dumps(payload).encode()),
                        "application/json",
                    )
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def seen(self, provider: str) -> list[Seen]:
        """The requests made to *provider*'s API so far."""
        return [r for r in self.requests if r.provider == provider]

    # -- DNS --------------------------------------------------------------------------------

    def _zone_of(self, name: str) -> str | None:
        name = name.rstrip(".").lower()
        for zone in self.bind.zones:
            if name == zone or name.endswith("." + zone):
                return zone
        return None

    def _publish(self, record: Record, *, add: bool) -> None:
        keyring = dns.tsigkeyring.from_text({self.bind.key_name: self.bind.secret})
        update = dns.update.UpdateMessage(
            record.zone, keyring=keyring, keyalgorithm=self.bind.algorithm
        )
        rel = dns.name.from_text(record.name).relativize(dns.name.from_text(record.zone))
        rdata = dns.rdtypes.ANY.TXT.TXT(
            dns.rdataclass.IN, dns.rdatatype.TXT, [record.content.strip('"').encode()]
        )
        if add:
            update.add(rel, record.ttl, rdata)
        else:
            update.delete(rel, rdata)
        response = dns.query.tcp(update, "127.0.0.1", port=self.bind.port, timeout=5)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())

    def _add(self, zone: str, name: str, content: str, ttl: int) -> Record:
        record = Record(str(next(self._ids)), zone, name.rstrip(".").lower(), content, ttl)
        self._publish(record, add=True)
        self.records[record.id] = record
        return record

    def _delete(self, record_id: str) -> bool:
        record = self.records.pop(record_id, None)
        if record is None:
            return False
        self._publish(record, add=False)
        return True

    def _in_zone(self, zone: str) -> list[Record]:
        return [r for r in self.records.values() if r.zone == zone]

    # -- the APIs ---------------------------------------------------------------------------

    def answer(self, seen: Seen) -> tuple[int, Any]:
        """Status and JSON body (``None``: empty) for *seen*."""
        if seen.provider == "cloudflare":
            return self._cloudflare(seen)
        if seen.provider == "digitalocean":
            return self._digitalocean(seen)
        if seen.provider == "dnsimple":
            return self._dnsimple(seen)
        if seen.provider == "route53":
            return route53_api.answer(self, seen)
        return 404, {"error": "unknown host"}

    def _bearer_ok(self, seen: Seen) -> bool:
        return seen.headers.get("Authorization") == f"Bearer {self.tokens.get(seen.provider)}"

    def _cloudflare(self, seen: Seen) -> tuple[int, Any]:
        url = urlsplit(seen.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")  # client v4 zones [id dns_records [rid]]
        glob = self.cloudflare_global_key
        key_ok = (
            glob is not None
            and (
                seen.headers.get("X-Auth-Email"),
                seen.headers.get("X-Auth-Key"),
            )
            == glob
        )
        if not (self._bearer_ok(seen) or key_ok):
            return 403, {
                "success": False,
                "errors": [{"code": 10000, "message": "Authentication error"}],
                "messages": [],
                "result": None,
            }

        def ok(result: Any, info: dict[str, int] | None = None) -> tuple[int, Any]:
            body = {"success": True, "errors": [], "messages": [], "result": result}
            if info is not None:
                body["result_info"] = info
            return 200, body

        def listing(items: list[dict[str, Any]]) -> tuple[int, Any]:
            info = {"page": 1, "per_page": 100, "count": len(items), "total_count": len(items)}
            return ok(items, {**info, "total_pages": 1})

        zones = {f"cf{index:028d}": zone for index, zone in enumerate(self.bind.zones)}
        if parts[2:] == ["zones"]:
            return listing(
                [{"id": zid, "name": name, "status": "active"} for zid, name in zones.items()]
            )
        zone = zones.get(parts[3]) if len(parts) > 3 else None
        if zone is None or parts[4:5] != ["dns_records"]:
            return 404, {"success": False, "errors": [{"code": 7003, "message": "No route"}]}

        def as_json(record: Record) -> dict[str, Any]:
            return {
                "id": record.id,
                "zone_id": parts[3],
                "zone_name": zone,
                "name": record.name,
                "type": "TXT",
                "content": record.content,
                "proxiable": False,
                "proxied": False,
                "ttl": record.ttl,
            }

        if seen.method == "POST":
            data = json.loads(seen.body)
            return ok(as_json(self._add(zone, data["name"], data["content"], data.get("ttl", 1))))
        if seen.method == "GET":
            found = [
                as_json(r)
                for r in self._in_zone(zone)
                if r.name == query.get("name", r.name).lower()
                and r.content == query.get("content", r.content)
            ]
            return listing(found)
        if seen.method == "DELETE" and len(parts) == 6:
            if self._delete(parts[5]):
                return ok({"id": parts[5]})
            return 404, {"success": False, "errors": [{"code": 81044, "message": "not found"}]}
        return 405, {"success": False, "errors": [{"code": 10405, "message": "not allowed"}]}

    def _digitalocean(self, seen: Seen) -> tuple[int, Any]:
        parts = urlsplit(seen.path).path.strip("/").split("/")  # v2 domains NAME [records [id]]
        if not self._bearer_ok(seen):
            return 401, {"id": "Unauthorized", "message": "Unable to authenticate you"}
        if parts == ["v2", "domains"] and seen.method == "GET":  # python-digitalocean's list
            zones = [{"name": z, "ttl": 1800, "zone_file": ""} for z in self.bind.zones]
            return 200, {"domains": zones, "links": {}, "meta": {"total": len(zones)}}
        zone = parts[2] if len(parts) > 2 and parts[2] in self.bind.zones else None
        if parts[:2] != ["v2", "domains"] or zone is None:
            return 404, {
                "id": "not_found",
                "message": "The resource you requested could not be found.",
            }

        def as_json(record: Record) -> dict[str, Any]:
            relative = record.name[: -len(zone) - 1] if record.name != zone else "@"
            return {
                "id": int(record.id),
                "type": "TXT",
                "name": relative,
                "data": record.content,
                "priority": None,
                "port": None,
                "ttl": record.ttl,
                "weight": None,
                "flags": None,
                "tag": None,
            }

        if len(parts) == 3:
            return 200, {"domain": {"name": zone, "ttl": 1800, "zone_file": ""}}
        if seen.method == "GET":
            found = [as_json(r) for r in self._in_zone(zone)]
            return 200, {"domain_records": found, "links": {}, "meta": {"total": len(found)}}
        if seen.method == "POST":
            data = json.loads(seen.body)
            name = zone if data["name"] in ("", "@") else f"{data['name']}.{zone}"
            return 201, {"domain_record": as_json(self._add(zone, name, data["data"], data["ttl"]))}
        if seen.method == "DELETE" and len(parts) == 5 and self._delete(parts[4]):
            return 204, None
        return 404, {"id": "not_found", "message": "The resource you requested could not be found."}

    def _dnsimple(self, seen: Seen) -> tuple[int, Any]:
        url = urlsplit(seen.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")  # v2 accounts | v2 ACCOUNT (domains|zones ...)
        if not self._bearer_ok(seen):
            return 401, {"message": "Authentication failed"}
        if parts == ["v2", "accounts"]:
            return 200, {
                "data": [
                    {
                        "id": DNSIMPLE_ACCOUNT,
                        "email": "ops@example.test",
                        "plan_identifier": "teams-v1-monthly",
                    }
                ]
            }
        if len(parts) < 3 or parts[1] != str(DNSIMPLE_ACCOUNT):
            return 404, {"message": "Account not found"}
        if parts[2] == "domains":
            like = query.get("name_like", "")
            found = [
                {
                    "id": 9000 + index,
                    "account_id": DNSIMPLE_ACCOUNT,
                    "name": zone,
                    "state": "hosted",
                }
                for index, zone in enumerate(self.bind.zones)
                if like in zone
            ]
            return 200, {"data": found, "pagination": {"current_page": 1, "total_pages": 1}}
        zone = parts[3] if len(parts) > 4 and parts[3] in self.bind.zones else None
        if parts[2] != "zones" or zone is None or parts[4] != "records":
            return 404, {"message": "Zone not found"}

        def as_json(record: Record) -> dict[str, Any]:
            relative = record.name[: -len(zone) - 1] if record.name != zone else ""
            return {
                "id": int(record.id),
                "zone_id": zone,
                "parent_id": None,
                "name": relative,
                "content": record.content,
                "ttl": record.ttl,
                "priority": None,
                "type": "TXT",
                "regions": ["global"],
                "system_record": False,
            }

        if seen.method == "GET":
            name = query.get("name")
            found = [as_json(r) for r in self._in_zone(zone)]
            if name is not None:
                found = [r for r in found if r["name"] == name]
            return 200, {"data": found, "pagination": {"current_page": 1, "total_pages": 1}}
        if seen.method == "POST":
            data = json.loads(seen.body)
            name = f"{data['name']}.{zone}" if data["name"] else zone
            record = self._add(zone, name, data["content"], int(data.get("ttl") or 3600))
            return 201, {"data": as_json(record)}
        if seen.method == "DELETE" and len(parts) == 6 and self._delete(parts[5]):
            return 204, None
        return 404, {"message": "Record not found"}
