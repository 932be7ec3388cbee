"""The one error tree of certbot-like, with the exit code of each branch.

Every error a user can meet is one of these. Each carries a one-line ``message`` (what is
wrong) and an optional ``hint`` (how to fix it); the CLI prints ``Error: message. hint`` on a
single line and exits with the class's ``exit_code``. Third-party exceptions are translated
into this tree where they occur; anything else is a bug (exit 1, traceback in the log only).

::

    CertbotLikeError                 1   unexpected / generic
    ├── UsageError                   2   bad flags, bad names, conflicting options
    ├── ConfigError                  3   cli.ini, renewal conf, credentials file
    │   └── CaTrustError             3   the CA's HTTPS certificate is not trusted
    ├── PluginError                  4   plugin unavailable, misconfigured, busy port
    │   └── InstallerError           4   installation failed (and was rolled back)
    ├── AcmeError                    5   the CA refused the request (problem document)
    │   ├── ValidationFailed         6   a challenge failed (with the CA's detail)
    │   ├── CertificateCheckFailed  10   the CA sent a certificate we will not store
    │   ├── ProtocolViolation       10   the CA sent something RFC 8555 does not allow
    │   │   └── ForeignOriginError  10   a CA URL points outside the allowed origins
    │   └── TemporaryAcmeError      75   rate limited, CA down, timeout, nonces exhausted
    ├── StorageError                 7   disk full, read-only, broken lineage
    │   └── StoreUnavailable        75   the shared store (PostgreSQL) cannot be reached
    ├── LockError                    8   another certbot-like run holds the lock
    ├── HookError                    9   a hook failed or timed out
    ├── PartialFailure              11   some lineages in a run failed (renew)
    └── Interrupted                130   Ctrl-C / SIGTERM
"""

from __future__ import annotations

from typing import ClassVar


class CertbotLikeError(Exception):
    """Base of every error certbot-like reports to a user."""

    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message.rstrip(".")
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint as one line, newlines folded (safe for a terminal or a log)."""
        text = self.message + "."
        if self.hint:
            text += " " + self.hint.rstrip(".") + "."
        return " ".join(text.split())

    def __str__(self) -> str:
        return self.one_line()


class UsageError(CertbotLikeError):
    """The command line asks for something impossible or invalid."""

    exit_code = 2
    kind = "usage"


class ConfigError(CertbotLikeError):
    """A configuration file (cli.ini, renewal conf, credentials) is unreadable or invalid."""

    exit_code = 3
    kind = "config"


class CaTrustError(ConfigError):
    """The CA's HTTPS certificate did not verify."""

    kind = "ca-trust"


class PluginError(CertbotLikeError):
    """An authenticator or installer cannot do its job."""

    exit_code = 4
    kind = "plugin"


class InstallerError(PluginError):
    """An installer failed; its changes were rolled back."""

    kind = "installer"


class AcmeError(CertbotLikeError):
    """The CA answered with an error (an RFC 7807 problem document) or refused the order.

    ``problem_type`` is the short type (``rateLimited``, ``unauthorized`` ...), ``identifier``
    the name the problem is about when the CA said so, ``retry_after`` seconds when given.
    """

    exit_code = 5
    kind = "acme"

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        problem_type: str | None = None,
        detail: str | None = None,
        identifier: str | None = None,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.problem_type = problem_type
        self.detail = detail
        self.identifier = identifier
        self.retry_after = retry_after
        self.status = status


class ValidationFailed(AcmeError):
    """The CA could not validate a challenge."""

    exit_code = 6
    kind = "validation"


class CertificateCheckFailed(AcmeError):
    """The certificate the CA issued fails our checks (key, names, validity, chain)."""

    exit_code = 10
    kind = "certificate-check"


class ProtocolViolation(AcmeError):
    """The CA sent something RFC 8555 does not allow (bad token, foreign identifier ...)."""

    exit_code = 10
    kind = "protocol"


class ForeignOriginError(ProtocolViolation):
    """A URL from the CA points at an origin (scheme, host, port) other than the directory's
    and those allowed with ``--ca-allow-origin``; nothing was sent there."""

    kind = "foreign-origin"


class TemporaryAcmeError(AcmeError):
    """Worth retrying later: rate limits, network failures, timeouts, server errors."""

    exit_code = 75
    kind = "temporary"


class StorageError(CertbotLikeError):
    """Reading or writing certbot-like's files failed; the previous state is intact."""

    exit_code = 7
    kind = "storage"


class DeployError(StorageError):
    """A deploy target (``--deploy-to``) could not be written; the lineage is intact."""

    exit_code = 12
    kind = "deploy"


class StoreUnavailable(StorageError):
    """The shared store (PostgreSQL) cannot be reached or went away mid-run; nothing local was
    changed, and the next run converges."""

    exit_code = 75
    kind = "temporary"


class LockError(CertbotLikeError):
    """Another process holds a lock we need."""

    exit_code = 8
    kind = "lock"


class HookError(CertbotLikeError):
    """A hook script failed or timed out."""

    exit_code = 9
    kind = "hook"


class PartialFailure(CertbotLikeError):
    """Some of the work in a multi-item run (renew) failed; the rest succeeded."""

    exit_code = 11
    kind = "partial"


class Interrupted(CertbotLikeError):
    """The user or the system interrupted the run."""

    exit_code = 130
    kind = "interrupted"


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected internal error (a bug: the traceback is in the log)",
    2: "usage error: bad option, bad domain name, conflicting flags",
    3: "configuration error: cli.ini, renewal conf, credentials file, CA trust",
    4: "plugin error: authenticator or installer unavailable or failed",
    5: "the CA refused the request",
    6: "challenge validation failed",
    7: "storage error: disk full, read-only, broken lineage",
    8: "another certbot-like run holds the lock",
    9: "a hook failed or timed out",
    10: "the CA sent an invalid certificate or violated the protocol",
    11: "some lineages failed, others succeeded (renew)",
    12: "the certificate is stored, but a deploy target could not be written",
    75: "temporary failure: rate limited, CA unreachable, timeout; retry later",
    130: "interrupted",
}
