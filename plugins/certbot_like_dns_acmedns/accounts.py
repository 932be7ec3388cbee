"""acme-dns registrations: one JSON file per name, 0600, under ``<config-dir>/acme-dns/``.

Each file has the shape of a certbot-dns-acmedns / acme-dns-client registration file, keyed
by the name, so it can be handed to those tools as it is::

    {"example.com": {"username": "...", "password": "...", "fulldomain": "....auth.example.org",
                     "subdomain": "...", "allowfrom": []}}

The directory is ``acme-dns/<host>_<port>/`` of the API URL, so registrations on two acme-dns
servers never mix. An existing certbot-dns-acmedns registration file (several names in one
file) is read too, never written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from certbot_like.errors import ConfigError, StorageError
from certbot_like.plugin_kit import atomic_write


@dataclass(frozen=True)
class Account:
    """acme-dns credentials for one name (``password`` is never printed)."""

    username: str
    fulldomain: str
    subdomain: str
    password: str = field(repr=False)
    allowfrom: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any, where: str) -> Account:
        """Build from the JSON object of a registration.

        Raises:
            ConfigError: a field is missing or not a string.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: the registration is not a JSON object")
        values: dict[str, str] = {}
        for key in ("username", "password", "fulldomain", "subdomain"):
            value = data.get(key)
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"{where}: the registration has no valid {key!r}",
                    "Delete the file to register the name again",
                )
            values[key] = value
        allow = data.get("allowfrom") or []
        if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
            raise ConfigError(f"{where}: 'allowfrom' must be a list of strings")
        return cls(
            username=values["username"],
            password=values["password"],
            fulldomain=values["fulldomain"].rstrip("."),
            subdomain=values["subdomain"],
            allowfrom=tuple(allow),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "password": self.password,
            "fulldomain": self.fulldomain,
            "subdomain": self.subdomain,
            "allowfrom": list(self.allowfrom),
        }


def server_dir_name(api_url: str) -> str:
    """``auth.acme-dns.io_443`` for ``https://auth.acme-dns.io``: one directory per server."""
    parts = urlsplit(api_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = re.sub(r"[^A-Za-z0-9.-]", "_", parts.hostname or "server")
    return f"{host}_{port}"


class AccountStore:
    """Registrations on one acme-dns server: our per-name files, then an optional
    certbot-dns-acmedns registration file."""

    def __init__(self, directory: Path, registration_file: Path | None = None) -> None:
        self.directory = directory
        self.registration_file = registration_file

    def path_for(self, name: str) -> Path:
        """The file holding *name*'s registration (``<name>.json``)."""
        return self.directory / f"{name.lower()}.json"

    def load(self, name: str) -> tuple[Account, Path] | None:
        """The registration of *name* and where it was found, or ``None``.

        Raises:
            ConfigError: a registration file exists but is unreadable or invalid.
        """
        key = name.lower()
        for path in (self.path_for(key), self.registration_file):
            if path is None or not path.exists():
                continue
            data = _read_json(path)
            if key in data:
                return Account.from_json(data[key], f"{path} ({key})"), path
        return None

    def save(self, name: str, account: Account) -> Path:
        """Write *name*'s registration atomically, mode 0600 (directory 0700).

        Raises:
            StorageError: the file cannot be written.
        """
        path = self.path_for(name)
        text = json.dumps({name.lower(): account.to_json()}, indent=2) + "\n"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(path, text.encode("utf-8"), mode=0o600)
        except OSError as exc:
            raise StorageError(
                f"Cannot save the acme-dns registration in {path}: {exc.strerror or exc}",
                "Check that the config directory is writable",
            ) from None
        return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object keyed by domain name")
    return {str(k).lower().rstrip("."): v for k, v in data.items()}
