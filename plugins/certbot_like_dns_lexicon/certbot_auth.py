"""The authenticator behind certbot's DNS plugin names (see :mod:`.certbot_names`).

It is the dns-lexicon authenticator with the provider fixed by the plugin name and the
provider's options read from certbot's credentials file (``dns_cloudflare_api_token`` ->
``auth_token``). dns-google reads certbot's service account JSON file; dns-route53 has no
credentials option and leaves boto3 to find the AWS credentials (environment,
``~/.aws/credentials``, instance role), as certbot-dns-route53 does.
"""

from __future__ import annotations

import json
import logging
import os
from functools import cache
from pathlib import Path
from typing import Any

from certbot_like_dns.credentials import permission_warning, read_credentials

from certbot_like.errors import ConfigError, PluginError
from certbot_like.interfaces import Authenticator, PluginContext

from .authenticator import LexiconAuthenticator
from .certbot_names import CertbotDnsPlugin, by_name, lexicon_options, secret_values

logger = logging.getLogger(__name__)

AWS_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
GOOGLE_SECRET_FIELDS = ("private_key", "private_key_id")


class CertbotPluginAuthenticator(LexiconAuthenticator):
    """dns-01 through lexicon under a certbot plugin's name, flags and credentials keys."""

    certbot: CertbotDnsPlugin

    def __init__(self, options: Any, context: PluginContext) -> None:
        super().__init__(options, context)
        self.certbot = by_name(self.plugin_name)

    @property
    def credentials_flag(self) -> str:
        return f"--{self.plugin_name}-credentials"

    def _credentials_path(self) -> str | None:
        path: str | None = getattr(self.options, self.certbot.prefix + "credentials", None)
        return path or None

    def setup(self) -> None:
        """Check the provider is usable and map certbot's credentials onto its options.

        Raises:
            PluginError: lexicon lacks the provider or its extra packages, or dns-google has
                no service account file.
            ConfigError: the credentials file is missing, invalid or lacks a key.
        """
        self.use_provider(self.certbot.provider)
        path = self._credentials_path()
        if self.certbot.credentials == "ini":
            if path is None:
                raise ConfigError(
                    f"The {self.plugin_name} plugin needs {self.credentials_flag} FILE",
                    f"Give the certbot-{self.plugin_name} credentials INI file (see docs/dns.md)",
                )
            creds = read_credentials(path, flag=self.credentials_flag, warn=self.warn)
            for value in secret_values(self.certbot, creds.values):
                self._secret(value)
            self.provider_options = lexicon_options(self.certbot, creds.values, path)
        elif self.certbot.credentials == "json":
            self.provider_options = self._google_options(path)
        else:
            for variable in AWS_SECRET_VARIABLES:
                if os.environ.get(variable):
                    self._secret(os.environ[variable])
        logger.debug(
            "%s: lexicon provider %s with options %s",
            self.plugin_name,
            self.provider,
            ", ".join(sorted(self.provider_options)) or "none (boto3 finds the credentials)",
        )

    def _google_options(self, path: str | None) -> dict[str, str]:
        if path is None:
            raise PluginError(
                "dns-google needs a service account file here: Application Default "
                "Credentials are not supported",
                f"Give {self.credentials_flag} FILE.json (a service account key with the DNS "
                "Administrator role)",
            )
        where = Path(path)
        try:
            data = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            raise ConfigError(
                f"Cannot read the service account file {where}: {detail}",
                f"Give {self.credentials_flag} the JSON key file of a service account",
            ) from None
        if not isinstance(data, dict) or not data.get("project_id"):
            raise ConfigError(
                f"{where} is not a service account key file (no project_id)",
                "Download a JSON key for the service account in the Google Cloud console",
            )
        for field in GOOGLE_SECRET_FIELDS:
            if isinstance(data.get(field), str):
                self._secret(data[field])
        message = permission_warning(where)
        if message:
            self.warn(message)
        project = getattr(self.options, "dns_google_project", None)
        if project and project != data["project_id"]:
            logger.debug("--dns-google-project %s ignored: the file's project is used", project)
        return {"auth_service_account_info": f"file::{where}"}

    def credentials_hint(self) -> str:
        if self.certbot.credentials == "ini":
            return (
                f"Check the {self.certbot.prefix}... keys in the file given with "
                f"{self.credentials_flag} (see docs/dns.md)"
            )
        if self.certbot.credentials == "json":
            return f"Check the service account file given with {self.credentials_flag}"
        return "Check the AWS credentials boto3 finds (AWS_* variables, ~/.aws/credentials)"


@cache
def _authenticator_class(name: str) -> type[CertbotPluginAuthenticator]:
    """A subclass whose ``plugin_name`` is certbot's (messages, propagation option)."""
    title = by_name(name).provider.capitalize()
    return type(
        f"Certbot{title}Authenticator", (CertbotPluginAuthenticator,), {"plugin_name": name}
    )


def create(options: Any, context: PluginContext) -> CertbotPluginAuthenticator:
    """The factory of every certbot-named plugin: the options class names the plugin."""
    return _authenticator_class(type(options).certbot_plugin)(options, context)


# The plugin's contract, checked by mypy: instances are authenticators.
_authenticator: type[Authenticator] = CertbotPluginAuthenticator
