"""The DNS authenticator base: the DNS-01 mechanics every DNS plugin shares.

A DNS plugin subclasses :class:`DnsAuthenticator` and provides two operations,
:meth:`~DnsAuthenticator.add_txt` and :meth:`~DnsAuthenticator.del_txt`, plus
:meth:`~DnsAuthenticator.setup` to read its credentials. The base does the rest:

- ``perform`` follows the CNAME delegation of each task's ``_acme-challenge`` name, groups
  the TXT values by the name they are written at (a wildcard and its apex share one name),
  adds every record first and then waits once: a real check of the zone's authoritative
  nameservers (:mod:`.propagation`) or, when ``--dns-<plugin>-propagation-seconds`` is given,
  certbot's fixed wait;
- ``cleanup`` removes exactly the records whose creation was attempted, after success,
  failure or Ctrl-C, tolerating tasks never performed; a record that cannot be removed is
  reported, never raised.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from certbot_like.errors import CertbotLikeError, PluginError
from certbot_like.interfaces import DNS01, Authenticator, ChallengeTask, Identifier, PluginContext

from . import DnsOptions
from .delegation import follow_cnames
from .lookup import Lookup
from .propagation import wait_for_txt

logger = logging.getLogger(__name__)

OptionsT = TypeVar("OptionsT", bound=DnsOptions)


@dataclass(frozen=True)
class TxtRecord:
    """One TXT record to publish: ``domain`` is the name being proved (without ``*.``),
    ``name`` where the record goes (after CNAME delegation), ``value`` its content."""

    domain: str
    name: str
    value: str

    @property
    def key(self) -> tuple[str, str]:
        return self.name.lower(), self.value


class DnsAuthenticator(abc.ABC, Generic[OptionsT]):
    """Answers dns-01 challenges by publishing TXT records through :meth:`add_txt`.

    ``plugin_name`` (e.g. ``"dns-rfc2136"``) names the plugin in messages and gives the
    option prefix (``dns_rfc2136``) of its ``..._propagation_seconds`` option; ``OptionsT``
    is the plugin's options dataclass, a subclass of :class:`~certbot_like_dns.DnsOptions`.
    """

    plugin_name: ClassVar[str] = "dns"

    def __init__(self, options: OptionsT, context: PluginContext) -> None:
        self.options = options
        self.context = context
        self._ready = False
        self._lookup: Lookup | None = None
        self._chains: dict[str, list[str]] = {}
        self._task_keys: dict[ChallengeTask, tuple[str, str]] = {}
        self._added: dict[tuple[str, str], TxtRecord] = {}
        self._failed: set[tuple[str, str]] = set()

    # -- what a plugin provides -----------------------------------------------------------------

    def setup(self) -> None:
        """Read credentials and check the configuration; called once, from :meth:`prepare`.

        Raises:
            ConfigError: the credentials file is missing or invalid.
            PluginError: the plugin cannot work with this configuration.
        """

    @abc.abstractmethod
    def add_txt(self, domain: str, fqdn: str, value: str) -> None:
        """Publish a TXT record *value* at *fqdn* (next to any existing ones) for *domain*.

        Raises:
            PluginError: the record could not be added (one line, naming server and zone).
        """

    @abc.abstractmethod
    def del_txt(self, domain: str, fqdn: str, value: str) -> None:
        """Remove the TXT record *value* at *fqdn*; other values at *fqdn* stay.

        Raises:
            PluginError: the record could not be removed.
        """

    def review(self, records: list[TxtRecord]) -> list[TxtRecord]:
        """Check or adjust the records planned by :meth:`perform` before any is added.

        Returns the records to add, one per input record, in the same order.

        Raises:
            PluginError: the records cannot be written as planned.
        """
        return records

    # -- helpers for plugins ----------------------------------------------------------------

    @property
    def option_prefix(self) -> str:
        """``dns_rfc2136`` for ``dns-rfc2136``: the prefix of certbot's option names."""
        return self.plugin_name.replace("-", "_")

    @property
    def propagation_seconds(self) -> int | None:
        """The fixed ``--dns-<plugin>-propagation-seconds`` wait, or ``None`` (real check)."""
        value = getattr(self.options, f"{self.option_prefix}_propagation_seconds", None)
        return int(value) if value is not None else None

    @property
    def lookup(self) -> Lookup:
        """Lookups through ``--dns-resolver`` or the system resolver (made on first use).

        Raises:
            UsageError: ``--dns-resolver`` is malformed.
            PluginError: no resolver is configured on this system.
        """
        if self._lookup is None:
            self._lookup = Lookup(self.options.dns_resolver)
        return self._lookup

    def delegated_name(self, name: str, *, fresh: bool = False) -> str:
        """Where a TXT record for *name* must be written: the end of its CNAME chain.

        Raises:
            PluginError: the chain loops, is too long, or a lookup failed.
        """
        if fresh or name not in self._chains:
            chain = follow_cnames(name, self.lookup)
            if len(chain) > 1:
                logger.info("%s is delegated by CNAME: %s", name, " -> ".join(chain))
            self._chains[name] = chain
        return self._chains[name][-1]

    def warn(self, message: str) -> None:
        """Tell the operator (stderr, unless ``--quiet``) and the log."""
        logger.warning("%s", message)
        self.context.display.notify(f"Warning: {message}")

    # -- the Authenticator protocol ---------------------------------------------------------

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        """``["dns-01"]`` for DNS names (wildcards included), nothing for IP addresses."""
        return [] if identifier.kind == "ip" else [DNS01]

    def prepare(self, challenge_types: Sequence[str]) -> None:
        """Read the credentials and check the options before an order is placed.

        Raises:
            ConfigError: the credentials file is missing or invalid.
            UsageError: a DNS option is malformed.
            PluginError: the plugin cannot work with this configuration.
        """
        self._ensure_setup()
        _ = self.lookup  # checks --dns-resolver (or the system's resolver) before any order
        if self.propagation_seconds is None and self.options.dns_propagation_timeout <= 0:
            raise PluginError(
                "--dns-propagation-timeout must be positive",
                f"Give a number of seconds, or --{self.plugin_name}-propagation-seconds",
            )

    def _ensure_setup(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Publish every task's TXT record, then wait once until the CA can see them all.

        Raises:
            PluginError: a task is not dns-01, a delegation or record cannot be set up, or
                the records did not propagate in time (:meth:`cleanup` removes what was
                added).
            ConfigError: the credentials are invalid.
        """
        self._ensure_setup()
        for task in tasks:
            if task.kind != DNS01:
                raise PluginError(
                    f"The {self.plugin_name} plugin answers only dns-01, not {task.kind} "
                    f"(for {task.identifier})",
                    "Drop --preferred-challenges or include dns-01 in it",
                )
        planned = [
            TxtRecord(
                task.identifier.base.lower(), self.delegated_name(task.dns_name), task.dns_value
            )
            for task in tasks
        ]
        records = self.review(planned)
        for task, record in zip(tasks, records, strict=True):
            self._task_keys[task] = record.key
        expected: dict[str, set[str]] = {}
        for task, record in zip(tasks, records, strict=True):
            expected.setdefault(record.name, set()).add(record.value)
            if record.key in self._added:
                continue
            self._added[record.key] = record  # before the call: a timeout may still apply it
            try:
                self.add_txt(record.domain, record.name, record.value)
            except CertbotLikeError as exc:
                self._failed.add(record.key)
                if record.name.lower() != task.dns_name.lower():
                    note = f"{task.dns_name} is a CNAME to {record.name}"
                    exc.hint = f"{exc.hint.rstrip('.')}; {note}" if exc.hint else note
                raise
            logger.info("Added TXT record at %s for %s", record.name, record.domain)
        self._wait(expected)

    def _wait(self, expected: dict[str, set[str]]) -> None:
        seconds = self.propagation_seconds
        if seconds is not None:
            self.context.display.notify(f"Waiting {seconds} seconds for DNS changes to propagate")
            time.sleep(max(0, seconds))  # the operator asked for exactly this wait
            return
        started = time.monotonic()
        wait_for_txt(
            expected,
            self.lookup,
            port=self.options.dns_nameserver_port,
            timeout=self.options.dns_propagation_timeout,
            notify=self.context.display.notify,
            timeout_hint=(
                "Check that the DNS changes reach every nameserver of the zone "
                "(--dns-resolver, --dns-nameserver-port), raise --dns-propagation-timeout, "
                f"or wait a fixed time with --{self.plugin_name}-propagation-seconds"
            ),
        )
        logger.info("TXT records visible after %.1f s", time.monotonic() - started)

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        """Remove the records added for *tasks* (a record shared by a task still pending is
        kept until that task is cleaned up too). Never raises for a DNS failure: a record
        that cannot be removed is reported so the operator can remove it (unless adding it
        failed as well)."""
        for task in tasks:
            key = self._task_keys.pop(task, None)
            if key is None or key in self._task_keys.values():
                continue
            record = self._added.pop(key, None)
            if record is None:
                continue
            try:
                self.del_txt(record.domain, record.name, record.value)
            except Exception as exc:
                if key in self._failed:  # its creation failed too: most likely not there
                    logger.debug("Not removed (its creation had failed): %s: %s", key[0], exc)
                    continue
                text = exc.one_line() if isinstance(exc, CertbotLikeError) else str(exc)
                self.warn(
                    f"Could not remove the TXT record at {record.name}: {text.rstrip('.')}. "
                    "Remove it by hand"
                )
            else:
                logger.info("Removed TXT record at %s", record.name)


def _contract(base: DnsAuthenticator[DnsOptions]) -> Authenticator:
    """The base's contract, checked by mypy: every DNS plugin built on it is an
    authenticator (an abstract class cannot be assigned to ``type[Authenticator]``)."""
    return base
