"""The contract between certbot-like and its plugins (authenticators and installers).

Plugins import only this module, :mod:`certbot_like.errors` and
:mod:`certbot_like.plugin_kit` (what installers share). They receive plain values
(never ``acme`` objects): a frozen :class:`ChallengeTask` per challenge to answer, a
:class:`DeployTarget` per certificate to install, and a :class:`PluginContext` with the
directories, the user-facing display and a hook runner.

A plugin package exposes a :class:`PluginSpec` through the entry-point group
``certbot_like.plugins``; the spec names an options dataclass (which generates the plugin's
command-line flags and is exactly what the renewal conf stores) and, as a ``module:attr``
string, the factory that builds the plugin, so that listing plugins or printing ``--help``
never imports a plugin's heavy code.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CHALLENGE_TYPES",
    "DNS01",
    "ENTRY_POINT_GROUP",
    "HTTP01",
    "TLSALPN01",
    "Authenticator",
    "ChallengeBoard",
    "ChallengeRouting",
    "ChallengeTask",
    "DeployTarget",
    "Display",
    "HookResult",
    "HookRunner",
    "HstsEnhancement",
    "Identifier",
    "Installer",
    "NoOptions",
    "PluginContext",
    "PluginSpec",
    "RedirectEnhancement",
    "RollbackCapable",
    "option",
]

HTTP01 = "http-01"
DNS01 = "dns-01"
TLSALPN01 = "tls-alpn-01"
CHALLENGE_TYPES = (HTTP01, DNS01, TLSALPN01)
ENTRY_POINT_GROUP = "certbot_like.plugins"


@dataclass(frozen=True, order=True)
class Identifier:
    """A name to certify: ``kind`` is ``"dns"`` or ``"ip"``; wildcards keep their ``*.``."""

    kind: str
    value: str

    @property
    def wildcard(self) -> bool:
        return self.value.startswith("*.")

    @property
    def base(self) -> str:
        """The name without a wildcard prefix (what DNS-01 records are published under)."""
        return self.value[2:] if self.wildcard else self.value

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ChallengeTask:
    """One challenge the authenticator must make answerable, with everything derived.

    ``token`` has been validated as strict base64url before this object exists.
    """

    identifier: Identifier
    kind: str
    token: str
    key_authorization: str

    @property
    def http_path(self) -> str:
        """URL path the CA fetches for HTTP-01."""
        return f"/.well-known/acme-challenge/{self.token}"

    @property
    def dns_name(self) -> str:
        """Record name for DNS-01 (before any CNAME delegation), without trailing dot."""
        return f"_acme-challenge.{self.identifier.base}"

    @property
    def dns_value(self) -> str:
        """TXT value for DNS-01: base64url(SHA-256(key authorization))."""
        digest = hashlib.sha256(self.key_authorization.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    @property
    def tls_alpn_digest(self) -> bytes:
        """The acmeIdentifier extension value for TLS-ALPN-01 (RFC 8737)."""
        return hashlib.sha256(self.key_authorization.encode("ascii")).digest()


@dataclass(frozen=True)
class DeployTarget:
    """A certificate lineage for an installer to deploy (paths point into ``live/``)."""

    lineage: str
    names: tuple[Identifier, ...]
    cert_path: Path
    key_path: Path
    chain_path: Path
    fullchain_path: Path


@dataclass(frozen=True)
class HookResult:
    """What a hook printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str


class Display(Protocol):
    """How a plugin talks to the operator."""

    @property
    def interactive(self) -> bool:
        """True when a person can answer prompts (a terminal and no ``-n``)."""

    def notify(self, message: str) -> None:
        """Show a message (suppressed by ``--quiet``)."""

    def pause(self, message: str) -> None:
        """Show *message* and wait for Enter.

        Raises:
            PluginError: no one can answer (non-interactive run).
        """


class HookRunner(Protocol):
    """Runs operator-supplied hook commands; data goes through the environment only."""

    def run(self, command: str, env: Mapping[str, str], *, what: str) -> HookResult:
        """Run *command* through ``/bin/sh -c`` with *env* added to the environment.

        Raises:
            HookError: the hook exited non-zero or timed out.
        """


class ChallengeBoard(Protocol):
    """Where HTTP-01 answers are published for every node of a fleet to serve
    (``certbot-like fleet serve-challenges``); given to plugins only with ``--store``."""

    def publish(self, token: str, key_authorization: str, ttl: float) -> None:
        """Make *token* answerable with *key_authorization* for *ttl* seconds.

        Raises:
            StorageError: the store cannot be written (StoreUnavailable when unreachable).
        """

    def withdraw(self, token: str) -> None:
        """Stop answering *token* (a missing one is fine)."""


@dataclass(frozen=True)
class PluginContext:
    """Everything a plugin may use from certbot-like besides its own options."""

    config_dir: Path
    work_dir: Path
    logs_dir: Path
    display: Display
    hooks: HookRunner
    dry_run: bool = False
    register_secret: Callable[[str], None] = field(default=lambda value: None)
    """Call with every secret the plugin reads (TSIG keys, API tokens) so that no log, message
    or output ever shows it."""
    challenge_board: ChallengeBoard | None = None
    """The fleet's shared HTTP-01 answers (``--store``), None on a single machine."""


@runtime_checkable
class Authenticator(Protocol):
    """Proves control of identifiers by making ACME challenges answerable."""

    def prepare(self, challenge_types: Sequence[str]) -> None:
        """Check everything that can be checked before an order is placed (ports, dirs).

        Raises:
            PluginError: the plugin cannot work (busy port, missing directory ...).
        """

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        """The challenge types this plugin can answer for *identifier*, best first."""

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Make every task answerable; return only when the CA may validate all of them.

        Raises:
            PluginError: a task could not be set up (whatever was set up is cleaned up
                by :meth:`cleanup`, which is always called).
        """

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        """Undo :meth:`perform` for *tasks*; must tolerate tasks that were never performed."""


@runtime_checkable
class Installer(Protocol):
    """Deploys certificates into a server's configuration."""

    def prepare(self) -> None:
        """Check the server and its configuration can be used.

        Raises:
            PluginError: the server binary or configuration is unusable.
        """

    def names(self) -> set[str]:
        """Server names found in the configuration (for suggestions)."""

    def deploy(self, target: DeployTarget) -> None:
        """Point the configuration at *target*'s files (not yet reloaded).

        Raises:
            InstallerError: the change could not be made (nothing is left changed).
        """

    def config_test(self) -> None:
        """Ask the server whether the configuration is valid.

        Raises:
            InstallerError: the server rejected the configuration.
        """

    def reload(self) -> None:
        """Gracefully reload the server.

        Raises:
            InstallerError: the reload failed.
        """

    def restore(self) -> None:
        """Undo every change since :meth:`prepare`, byte for byte."""


@runtime_checkable
class RedirectEnhancement(Protocol):
    """Optional installer capability: redirect HTTP to HTTPS."""

    def enable_redirect(self, target: DeployTarget) -> None:
        """Add a permanent redirect from HTTP to HTTPS for *target*'s names."""


@runtime_checkable
class HstsEnhancement(Protocol):
    """Optional installer capability: Strict-Transport-Security."""

    def enable_hsts(self, target: DeployTarget) -> None:
        """Send an HSTS header on HTTPS responses for *target*'s names."""


@runtime_checkable
class ChallengeRouting(Protocol):
    """Optional installer capability: hand ``/.well-known/acme-challenge/`` of the sites
    serving some names over plain HTTP to another HTTP server (``certbot-like fleet
    route-challenges``: the node's ``fleet serve-challenges``)."""

    def route_challenges(self, names: Sequence[str], upstream: str) -> list[str]:
        """Route the challenge path of every site answering *names* on the HTTP port to
        *upstream* (``http://ADDR:PORT``); not yet tested or reloaded.

        Returns:
            One line per site changed; empty when every site already routes it there.

        Raises:
            InstallerError: nothing answers a name on the HTTP port, or a site already
                sends the challenge path somewhere else (nothing was changed).
        """


@runtime_checkable
class RollbackCapable(Protocol):
    """Optional installer capability: undo the last change that was committed to disk.

    Installers back up every file under ``context.work_dir`` before changing it; this puts
    the newest backup set back (``certbot-like rollback``).
    """

    def rollback_last(self) -> str:
        """Restore the files of the most recent change and return a one-line description.

        Raises:
            InstallerError: there is nothing to roll back, or the restore failed.
        """


def option(
    *flags: str,
    help: str,
    default: Any = None,
    metavar: str | None = None,
    multiple: bool = False,
    hidden: bool = False,
    choices: Sequence[str] | None = None,
) -> Any:
    """Declare one plugin option as a dataclass field with its command-line flags.

    The field name is the key stored in the renewal conf (certbot's name where certbot has
    the option, e.g. ``webroot_path``); ``flags`` are certbot's flags (``-w``,
    ``--webroot-path``). The field's annotation gives the type: ``str``, ``int``, ``float``,
    ``bool``, ``X | None``, ``tuple[str, ...]`` (with ``multiple=True``) or
    ``dict[str, str]`` (given as JSON on the command line, a subsection in the conf).
    """
    metadata = {
        "flags": flags,
        "help": help,
        "metavar": metavar,
        "multiple": multiple,
        "hidden": hidden,
        "choices": tuple(choices) if choices else None,
    }
    if isinstance(default, (dict, list)):
        if isinstance(default, dict):
            template = dict(default)
            return field(default_factory=lambda: dict(template), metadata=metadata)
        items = tuple(default)
        return field(default_factory=lambda: items, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class NoOptions:
    """For plugins without options."""


def _import(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class PluginSpec:
    """What a plugin package exposes through the ``certbot_like.plugins`` entry point.

    ``factory`` and ``availability`` are ``module:attr`` references imported only when the
    plugin is used: ``factory(options, context)`` builds the authenticator or installer;
    ``availability()`` returns ``None`` when the plugin can run here, else the reason why not.
    ``resolve_options(options, ordered)`` may refine options using the order of flags on the
    command line (``ordered`` is a list of ``(field_or_"domains", value)`` pairs), as webroot
    does to map each ``-w`` to the ``-d`` flags that follow it.
    """

    name: str
    description: str
    authenticator: bool
    installer: bool
    options: type[Any] = NoOptions
    factory: str = ""
    availability: str | None = None
    resolve_options: Callable[[Any, Sequence[tuple[str, str]]], Any] | None = None
    challenge_types: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def load_factory(self) -> Callable[[Any, PluginContext], Any]:
        """Import and return the factory.

        Raises:
            ImportError: the plugin's code cannot be imported (reported as unavailable).
        """
        factory: Callable[[Any, PluginContext], Any] = _import(self.factory)
        return factory

    def unavailable_reason(self) -> str | None:
        """``None`` when the plugin can run on this machine, else a one-line reason."""
        if self.availability is None:
            return None
        try:
            check: Callable[[], str | None] = _import(self.availability)
            return check()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    def option_fields(self) -> tuple[dataclasses.Field[Any], ...]:
        """The dataclass fields of the options class (each one a command-line flag)."""
        return dataclasses.fields(self.options)
