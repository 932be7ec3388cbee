"""A fake of Amazon Route 53's REST API (XML, version 2013-04-01) for :mod:`.provider_apis`.

boto3 reaches it through its own endpoint setting (``AWS_ENDPOINT_URL_ROUTE_53``); the
credentials are boto3's as certbot-dns-route53 uses them (environment variables or the
shared credentials file), checked here by the access key id of the SigV4 ``Authorization``
header. Resource record sets map onto the fake's TXT records (one per value), so what boto3
changes lands in the test BIND.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from tests.harness.provider_apis import ProviderApis, Seen

NS = "https://route53.amazonaws.com/doc/2013-04-01/"
PREFIX = "/2013-04-01/"
CHANGE_INFO = (
    "<ChangeInfo><Id>/change/CFAKE</Id><Status>INSYNC</Status>"
    "<SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo>"
)


def _xml(root: str, body: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{body}</{root}>'.encode()


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    body = (
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return status, _xml("ErrorResponse", body + "<RequestId>fake</RequestId>")


def zone_ids(apis: ProviderApis) -> dict[str, str]:
    return {f"Z{index:012d}FAKE": zone for index, zone in enumerate(apis.bind.zones)}


def answer(apis: ProviderApis, seen: Seen) -> tuple[int, bytes]:
    """Status and XML body for a Route 53 request."""
    match = re.search(r"Credential=([^/]+)/", seen.headers.get("Authorization", ""))
    if match is None or match.group(1) != apis.tokens.get("route53"):
        return _error(
            403, "InvalidClientTokenId", "The security token included in the request is invalid."
        )
    url = urlsplit(seen.path)
    parts = url.path[len(PREFIX) :].strip("/").split("/")
    zones = zone_ids(apis)
    if parts == ["change", "CFAKE"]:  # GetChange: certbot-dns-route53 waits for INSYNC
        return 200, _xml("GetChangeResponse", CHANGE_INFO)
    if parts in (["hostedzonesbyname"], ["hostedzone"]):
        root = (
            "ListHostedZonesByNameResponse"
            if parts[0].endswith("name")
            else "ListHostedZonesResponse"
        )
        items = "".join(
            f"<HostedZone><Id>/hostedzone/{zid}</Id><Name>{zone}.</Name>"
            "<CallerReference>fake</CallerReference><Config><PrivateZone>false</PrivateZone>"
            "</Config><ResourceRecordSetCount>2</ResourceRecordSetCount></HostedZone>"
            for zid, zone in sorted(zones.items(), key=lambda item: item[1])
        )
        return 200, _xml(
            root,
            f"<HostedZones>{items}</HostedZones><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems>",
        )
    if len(parts) != 3 or parts[0] != "hostedzone" or parts[2] != "rrset" or parts[1] not in zones:
        return _error(404, "NoSuchHostedZone", f"No hosted zone found with ID: {parts}")
    zone = zones[parts[1]]
    if seen.method == "GET":
        return 200, _list(apis, zone, parse_qs(url.query))
    return _change(apis, zone, seen.body)


def _rrsets(apis: ProviderApis, zone: str) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    for record in apis._in_zone(zone):
        sets.setdefault(record.name, []).append(record.content)
    return sets


def _list(apis: ProviderApis, zone: str, query: dict[str, list[str]]) -> bytes:
    items = []
    for name, values in sorted(_rrsets(apis, zone).items()):
        records = "".join(
            f"<ResourceRecord><Value>{escape(v)}</Value></ResourceRecord>" for v in values
        )
        items.append(
            f"<ResourceRecordSet><Name>{name}.</Name><Type>TXT</Type><TTL>120</TTL>"
            f"<ResourceRecords>{records}</ResourceRecords></ResourceRecordSet>"
        )
    return _xml(
        "ListResourceRecordSetsResponse",
        f"<ResourceRecordSets>{''.join(items)}</ResourceRecordSets>"
        "<IsTruncated>false</IsTruncated><MaxItems>300</MaxItems>",
    )


def _change(apis: ProviderApis, zone: str, body: str) -> tuple[int, bytes]:
    root = ET.fromstring(body)  # noqa: S314 - the body comes from boto3 in the test
    for change in root.iter(f"{{{NS}}}Change"):
        action = change.findtext(f"{{{NS}}}Action")
        rrset = change.find(f"{{{NS}}}ResourceRecordSet")
        assert rrset is not None and rrset.findtext(f"{{{NS}}}Type") == "TXT"
        name = (rrset.findtext(f"{{{NS}}}Name") or "").rstrip(".").lower()
        ttl = int(rrset.findtext(f"{{{NS}}}TTL") or 300)
        wanted = [v.text or "" for v in rrset.iter(f"{{{NS}}}Value")]
        current = {r.content: r.id for r in apis._in_zone(zone) if r.name == name}
        if action == "CREATE" and current:
            return _error(
                400,
                "InvalidChangeBatch",
                f"Tried to create resource record set {name} but it already exists",
            )
        if action == "DELETE" and sorted(current) != sorted(wanted):
            return _error(
                400,
                "InvalidChangeBatch",
                f"Tried to delete resource record set {name} but the values do not match",
            )
        keep = set(wanted) if action in ("CREATE", "UPSERT") else set()
        for content, record_id in current.items():
            if content not in keep:
                apis._delete(record_id)
        for content in keep - set(current):
            apis._add(zone, name, content, ttl)
    return 200, _xml("ChangeResourceRecordSetsResponse", CHANGE_INFO)
