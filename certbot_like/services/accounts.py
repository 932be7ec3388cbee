"""Accounts: find the stored one for a CA, or register (with ToS, e-mail and EAB).

The account key is ECDSA P-256 (ES256) for new accounts; RSA keys written by certbot are
used as they are. Keys are JWKs in ``private_key.json`` (0600), readable by certbot.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from certbot_like.errors import AcmeError, ConfigError, UsageError
from certbot_like.interfaces import Display
from certbot_like.logs import register_secret
from certbot_like.protocol.ca import CaConnector, CertificateAuthority
from certbot_like.settings import AccountSettings, CaSettings
from certbot_like.storage.store import Store, StoredAccount

logger = logging.getLogger(__name__)
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class Prompter(Protocol):
    """The part of the display account registration needs."""

    @property
    def interactive(self) -> bool: ...

    def confirm(self, question: str, *, default: bool, flag_hint: str) -> bool: ...

    def ask(self, question: str, *, flag_hint: str) -> str: ...

    def notify(self, message: str) -> None: ...


class UserDisplay(Display, Prompter, Protocol):
    """Display for plugins plus prompts for the services (the CLI's TerminalDisplay)."""


@dataclass
class Session:
    """A connection to a CA with its account loaded."""

    ca: CertificateAuthority
    account: StoredAccount
    registered_now: bool = False

    def close(self) -> None:
        self.ca.close()


def check_emails(emails: tuple[str, ...]) -> tuple[str, ...]:
    """Validate ``--email`` values (comma lists allowed).

    Raises:
        UsageError: an address is not a plausible e-mail address.
    """
    out: list[str] = []
    for value in emails:
        for part in value.split(","):
            addr = part.strip()
            if not addr:
                continue
            if not _EMAIL.match(addr) or len(addr) > 254:
                raise UsageError(
                    f"Invalid e-mail address {addr[:80]!r}", "Give an address like ops@example.com"
                )
            out.append(addr)
    return tuple(out)


def connect(ca: CaSettings, connector: CaConnector | None = None) -> CertificateAuthority:
    """A connection to *ca* (through *connector*, a real one by default), no account loaded.

    Raises:
        UsageError: the server URL is not HTTPS.
        ConfigError: an allowed origin is invalid.
    """
    if connector is None:
        from certbot_like.protocol.ca import AcmeConnector

        connector = AcmeConnector()
    return connector.connect(ca)


def load_session(
    store: Store,
    ca: CaSettings,
    settings: AccountSettings,
    display: Prompter,
    *,
    register: bool = True,
    connector: CaConnector | None = None,
) -> Session:
    """Connect to the CA and load (or, if *register*, create) the account.

    Raises:
        UsageError: ToS not agreed / no e-mail decision in a non-interactive run, bad input.
        ConfigError: the stored account is unreadable.
        AcmeError: the CA refused the registration.
    """
    register_secret(settings.eab_hmac_key)
    conn = connect(ca, connector)
    try:
        return _load(conn, store, ca, settings, display, register)
    except BaseException:
        conn.close()
        raise


def _load(
    conn: CertificateAuthority,
    store: Store,
    ca: CaSettings,
    settings: AccountSettings,
    display: Prompter,
    register: bool,
) -> Session:
    from certbot_like.protocol.account_keys import key_from_json, key_id

    ids = [settings.account_id] if settings.account_id else store.account_ids(ca.server)
    if ids:
        account = store.load_account(ca.server, ids[0])
        jwk = key_from_json(account.key_jwk)
        if key_id(jwk) != account.account_id:
            raise ConfigError(
                f"Account directory {account.account_id} holds another account's key",
                "Restore the account files from a backup",
            )
        conn.use_account(jwk, account.uri)
        return Session(conn, account)
    if settings.account_id:
        raise ConfigError(f"Account {settings.account_id} not found", "Check --account")
    if not register:
        raise ConfigError(
            f"No account is registered with {ca.server} in {store.description}",
            "Run `certbot-like register` first",
        )
    return Session(conn, register_account(conn, store, settings, display), True)


def register_account(
    conn: CertificateAuthority, store: Store, settings: AccountSettings, display: Prompter
) -> StoredAccount:
    """Register a new account with the CA and store it.

    Raises:
        UsageError: a decision (ToS, e-mail, EAB) cannot be made non-interactively.
        AcmeError: the CA refused.
    """
    emails = check_emails(settings.emails)
    if not emails and not settings.register_without_email:
        if not display.interactive:
            raise UsageError(
                "No e-mail address for the account",
                "Pass --email you@example.com, or --register-unsafely-without-email",
            )
        answer = display.ask(
            "E-mail address for expiry and security notices (Enter to skip):", flag_hint="--email"
        )
        emails = check_emails((answer,)) if answer else ()
    directory = conn.meta()
    if directory.eab_required and settings.eab is None:
        raise UsageError(
            "This CA requires External Account Binding",
            "Pass --eab-kid and --eab-hmac-key from your CA account",
        )
    if not settings.agree_tos and directory.terms_of_service:
        agreed = display.interactive and display.confirm(
            f"Do you agree to the CA's terms of service at {directory.terms_of_service}?",
            default=False,
            flag_hint="Pass --agree-tos",
        )
        if not agreed:
            raise UsageError(
                "You must agree to the CA's terms of service to register",
                "Read them and pass --agree-tos",
            )
    from certbot_like.protocol.account_keys import key_id, key_to_json, new_account_key

    key = new_account_key()
    account_id = key_id(key)
    conn.use_account(key, None)
    contact = [f"mailto:{e}" for e in emails]
    uri, body = conn.new_account(contact, eab=settings.eab)
    body.pop("key", None)
    account = StoredAccount(
        account_id=account_id,
        server=conn.server,
        uri=uri,
        key_jwk=key_to_json(key),
        body=body,
    )
    store.save_account(account)
    logger.info("Registered account %s at %s", account_id, uri)
    display.notify("Account registered.")
    return account


def refresh(session: Session) -> StoredAccount:
    """Ask the CA for the account as it is now (POST-as-GET to the account URL).

    Raises:
        AcmeError: the CA refused (unknown or deactivated account).
    """
    body = session.ca.fetch_account()
    body.pop("key", None)
    session.account.body = body
    return session.account


def update_contact(session: Session, store: Store, emails: tuple[str, ...]) -> StoredAccount:
    """Replace the account's contact addresses.

    Raises:
        UsageError: invalid addresses.
        AcmeError: the CA refused.
    """
    contact = [f"mailto:{e}" for e in check_emails(emails)]
    body = session.ca.update_account({"contact": contact}, "the contact update")
    body.pop("key", None)
    session.account.body = body
    store.save_registration(session.account)
    return session.account


def deactivate(session: Session) -> None:
    """Deactivate the account at the CA (irreversible); local files are kept.

    Raises:
        AcmeError: the CA refused.
    """
    body = session.ca.update_account({"status": "deactivated"}, "the deactivation")
    if body.get("status") != "deactivated":
        raise AcmeError(
            "The CA did not confirm the deactivation", "Run `certbot-like show-account` to check"
        )
