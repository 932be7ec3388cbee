"""The dns-acmedns authenticator: register once, check the CNAME, update the TXT record.

acme-dns API (https://github.com/joohoi/acme-dns#api):

- ``POST /register`` -> 201 ``{"username", "password", "fulldomain", "subdomain",
  "allowfrom"}``;
- ``POST /update`` with headers ``X-Api-User`` / ``X-Api-Key`` and ``{"subdomain", "txt"}``.

acme-dns keeps the two newest TXT values of each registration (enough for a name and its
wildcard) and has no delete: cleanup has nothing to remove, the values are rotated out.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from certbot_like_dns.base import DnsAuthenticator, TxtRecord
from certbot_like_dns.credentials import permission_warning, read_credentials

from certbot_like.errors import ConfigError, PluginError
from certbot_like.interfaces import Authenticator, PluginContext

from . import AcmeDnsOptions
from .accounts import Account, AccountStore, server_dir_name

logger = logging.getLogger(__name__)

TIMEOUT = (10.0, 30.0)
MAX_VALUES = 2
"""TXT values acme-dns keeps per registration."""
FLAG = "--dns-acmedns-credentials"


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class AcmeDnsClient:
    """The two calls of the acme-dns HTTP API."""

    def __init__(self, api_url: str) -> None:
        import requests

        self.api_url = api_url.rstrip("/")
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "certbot-like dns-acmedns"

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str], doing: str) -> Any:
        import requests

        url = f"{self.api_url}{path}"
        try:
            response = self._session.post(url, json=body, headers=headers, timeout=TIMEOUT)
        except requests.Timeout:
            raise PluginError(
                f"No answer from the acme-dns server {self.api_url} {doing}",
                "Check the API URL and that the server is up",
            ) from None
        except requests.RequestException as exc:
            kind = type(exc).__name__
            raise PluginError(
                f"Cannot reach the acme-dns server {self.api_url} {doing} ({kind})",
                "Check the API URL (dns_acmedns_api_url / --dns-acmedns-api-url)",
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 300:
            detail = data.get("error") if isinstance(data, dict) else None
            detail = detail or _one_line(response.text, 80) or response.reason
            raise PluginError(
                f"The acme-dns server {self.api_url} answered HTTP {response.status_code} "
                f"{doing}: {detail}",
                "A 401 means the stored registration is not valid on this server: delete it "
                "to register the name again"
                if response.status_code == 401
                else "See the acme-dns server's log",
            )
        return data

    def register(self, name: str) -> Account:
        """Create a registration for *name*.

        Raises:
            PluginError: the server refused or sent an invalid registration.
        """
        doing = f"while registering {name}"
        data = self._post("/register", {}, {}, doing)
        try:
            return Account.from_json(data, f"registration from {self.api_url}")
        except ConfigError:
            raise PluginError(
                f"The acme-dns server {self.api_url} sent an invalid registration {doing}"
            ) from None

    def update(self, account: Account, value: str, name: str) -> None:
        """Set *value* as the newest TXT value of *account*.

        Raises:
            PluginError: the server refused or did not answer.
        """
        headers = {"X-Api-User": account.username, "X-Api-Key": account.password}
        body = {"subdomain": account.subdomain, "txt": value}
        self._post("/update", body, headers, f"while updating the TXT record of {name}")


class AcmeDnsAuthenticator(DnsAuthenticator[AcmeDnsOptions]):
    """dns-01 through acme-dns (see :mod:`certbot_like_dns.base` for the mechanics)."""

    plugin_name = "dns-acmedns"

    def __init__(self, options: AcmeDnsOptions, context: PluginContext) -> None:
        super().__init__(options, context)
        self.api: AcmeDnsClient | None = None
        self.store: AccountStore | None = None
        self.accounts: dict[str, Account] = {}

    def setup(self) -> None:
        """Find the API URL (flag or credentials file) and the registration store.

        Raises:
            PluginError: no API URL was given, or it is not an http(s) URL.
            ConfigError: the credentials file is missing or invalid.
        """
        api_url = self.options.dns_acmedns_api_url
        registration_file: Path | None = None
        if self.options.dns_acmedns_credentials:
            creds = read_credentials(
                self.options.dns_acmedns_credentials,
                flag=FLAG,
                register_secret=self.context.register_secret,
                warn=self.warn,
            )
            api_url = api_url or creds.get("dns_acmedns_api_url")
            file_text = creds.get("dns_acmedns_registration_file")
            if file_text:
                registration_file = Path(file_text).expanduser()
                if not registration_file.is_absolute():
                    registration_file = creds.path.parent / registration_file
                message = permission_warning(registration_file)
                if message:
                    self.warn(message)
        if not api_url:
            raise PluginError(
                "The dns-acmedns plugin needs the URL of an acme-dns server",
                f"Give --dns-acmedns-api-url URL, or {FLAG} FILE with dns_acmedns_api_url",
            )
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PluginError(
                f"The acme-dns API URL {api_url!r} is not an http(s) URL",
                "e.g. https://auth.acme-dns.io",
            )
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            self.warn(
                f"The acme-dns API URL {api_url} is plain HTTP: its credentials cross the "
                "network unencrypted"
            )
        self.api = AcmeDnsClient(api_url)
        directory = self.context.config_dir / "acme-dns" / server_dir_name(api_url)
        self.store = AccountStore(directory, registration_file)

    def _account(self, name: str) -> tuple[Account, Path, bool]:
        """(account, file, newly registered) for *name*, registering it when unknown."""
        assert self.api is not None and self.store is not None
        found = self.store.load(name)
        if found is not None:
            account, path = found
            fresh = False
        else:
            account = self.api.register(name)
            path = self.store.save(name, account)
            fresh = True
            self.context.display.notify(
                f"Registered {name} with the acme-dns server {self.api.api_url}; "
                f"credentials saved in {path}"
            )
        self.context.register_secret(account.password)
        self.context.register_secret(account.username)
        return account, path, fresh

    def review(self, records: list[TxtRecord]) -> list[TxtRecord]:
        """Register unknown names, then check each ``_acme-challenge`` CNAME points at the
        name's acme-dns ``fulldomain`` (asking for it on a terminal).

        Raises:
            PluginError: a CNAME is missing or wrong (the message gives the record to
                create), or more than two values would go to one registration.
        """
        for domain in dict.fromkeys(r.domain for r in records):
            account, path, fresh = self._account(domain)
            self.accounts[domain] = account
            source = f"_acme-challenge.{domain}"
            target = self.delegated_name(source)
            if target.lower() == account.fulldomain.lower():
                continue
            wanted = f"{source}. CNAME {account.fulldomain}."
            found = f" (it now ends at {target})" if target.lower() != source.lower() else ""
            if self.context.display.interactive:
                self.context.display.notify(
                    f"Create this DNS record, then wait for it to be published:\n\n  {wanted}\n"
                )
                self.context.display.pause("Press Enter to Continue")
                target = self.delegated_name(source, fresh=True)
                if target.lower() == account.fulldomain.lower():
                    continue
            raise PluginError(
                f"{source} must be a CNAME to the acme-dns name {account.fulldomain}{found}",
                f"Create the DNS record `{wanted}` and run again"
                + ("; the new registration is saved in " if fresh else "; registration in ")
                + str(path),
            )
        planned = [
            TxtRecord(r.domain, self.accounts[r.domain].fulldomain, r.value) for r in records
        ]
        check_capacity(planned)
        return planned

    def add_txt(self, domain: str, fqdn: str, value: str) -> None:
        """Send *value* to the acme-dns registration of *domain*.

        Raises:
            PluginError: the server refused or did not answer.
        """
        assert self.api is not None
        self.api.update(self.accounts[domain], value, domain)

    def del_txt(self, domain: str, fqdn: str, value: str) -> None:
        """Nothing to do: acme-dns has no delete and rotates values out by itself."""
        logger.debug("acme-dns keeps the value at %s until it is rotated out", fqdn)


def check_capacity(records: list[TxtRecord]) -> None:
    """Refuse more distinct values at one acme-dns name than acme-dns keeps.

    Raises:
        PluginError: some registration would need more than :data:`MAX_VALUES` values.
    """
    counts: dict[str, int] = {}
    for record in {r.key: r for r in records}.values():
        counts[record.key[0]] = counts.get(record.key[0], 0) + 1
    for name, count in counts.items():
        if count > MAX_VALUES:
            raise PluginError(
                f"acme-dns keeps only {MAX_VALUES} TXT values per registration, and {name} "
                f"would need {count}",
                "Request fewer names at once for this registration",
            )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The plugin's contract, checked by mypy: instances of AcmeDnsAuthenticator are authenticators.
_authenticator: type[Authenticator] = AcmeDnsAuthenticator
