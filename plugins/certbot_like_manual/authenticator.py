"""The manual authenticator: run ``--manual-auth-hook`` per challenge, or ask the operator.

Hooks get certbot's environment variables (the data never goes into the command text):
``CERTBOT_DOMAIN``, ``CERTBOT_VALIDATION``, ``CERTBOT_TOKEN`` (HTTP-01 only),
``CERTBOT_REMAINING_CHALLENGES`` and ``CERTBOT_ALL_DOMAINS``; the cleanup hook also gets
``CERTBOT_AUTH_OUTPUT``, what the auth hook printed for the same challenge.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from certbot_like.errors import HookError, PluginError
from certbot_like.interfaces import (
    DNS01,
    HTTP01,
    Authenticator,
    ChallengeTask,
    Identifier,
    PluginContext,
)
from certbot_like_manual import ManualOptions

logger = logging.getLogger(__name__)

HTTP_INSTRUCTIONS = """\
Create a file containing just this data:

{validation}

And make it available on your web server at this URL:

{uri}"""

DNS_INSTRUCTIONS = """\
Please deploy a DNS TXT record under the name:

{name}.

with the following value:

{validation}"""

SUBSEQUENT_INSTRUCTIONS = (
    "\n\n(This must be set up in addition to the previous challenges; do not remove, "
    "replace, or undo the previous challenge tasks yet.)"
)

DNS_VERIFY_INSTRUCTIONS = (
    "\n\nBefore continuing, verify the TXT record has been deployed. Depending on the DNS "
    "provider, this may take some time, from a few seconds to multiple minutes. You can "
    "check it with: dig +short TXT {name}"
)


class ManualAuthenticator:
    """HTTP-01 and DNS-01 through hook scripts or the operator's own hands."""

    def __init__(self, options: ManualOptions, context: PluginContext) -> None:
        self.options = options
        self.context = context
        self._env: dict[ChallengeTask, dict[str, str]] = {}

    def preferred_challenges(self, identifier: Identifier) -> Sequence[str]:
        """``["http-01", "dns-01"]``: only DNS-01 for a wildcard, only HTTP-01 for an IP."""
        if identifier.wildcard:
            return [DNS01]
        if identifier.kind == "ip":
            return [HTTP01]
        return [HTTP01, DNS01]

    def prepare(self, challenge_types: Sequence[str]) -> None:
        """Refuse to start a run that would wait for a person who is not there.

        Raises:
            PluginError: no ``--manual-auth-hook`` and the run is non-interactive.
        """
        if not self.options.manual_auth_hook and not self.context.display.interactive:
            raise PluginError(
                "The manual plugin needs --manual-auth-hook when running non-interactively",
                "Give --manual-auth-hook (and --manual-cleanup-hook), or run it in a "
                "terminal without -n to set up the challenges by hand",
            )

    def perform(self, tasks: Sequence[ChallengeTask]) -> None:
        """Run the auth hook once per task, or show instructions and wait for Enter.

        Raises:
            PluginError: a challenge type this plugin cannot answer, or no one to answer
                the prompt.
            HookError: the auth hook failed or timed out.
        """
        all_domains = ",".join(task.identifier.base for task in tasks)
        for index, task in enumerate(tasks):
            env = self._task_env(task, remaining=len(tasks) - index - 1, all_domains=all_domains)
            # recorded first: a cleanup hook also runs after a failed auth hook
            self._env[task] = {**env, "CERTBOT_AUTH_OUTPUT": ""}
            hook = self.options.manual_auth_hook
            if hook:
                result = self.context.hooks.run(hook, env, what="manual auth hook")
                self._env[task]["CERTBOT_AUTH_OUTPUT"] = result.stdout.strip()
            else:
                self._instruct(task, first=index == 0, last=index == len(tasks) - 1)

    @staticmethod
    def _task_env(task: ChallengeTask, *, remaining: int, all_domains: str) -> dict[str, str]:
        if task.kind == HTTP01:
            validation = task.key_authorization
        elif task.kind == DNS01:
            validation = task.dns_value
        else:
            raise PluginError(
                f"The manual plugin cannot answer {task.kind} for {task.identifier.value}",
                "Use http-01 or dns-01",
            )
        env = {
            "CERTBOT_DOMAIN": task.identifier.base,
            "CERTBOT_VALIDATION": validation,
            "CERTBOT_REMAINING_CHALLENGES": str(remaining),
            "CERTBOT_ALL_DOMAINS": all_domains,
        }
        if task.kind == HTTP01:
            env["CERTBOT_TOKEN"] = task.token
        return env

    def _instruct(self, task: ChallengeTask, *, first: bool, last: bool) -> None:
        if task.kind == HTTP01:
            host = task.identifier.value
            if task.identifier.kind == "ip" and ":" in host:
                host = f"[{host}]"
            message = HTTP_INSTRUCTIONS.format(
                validation=task.key_authorization, uri=f"http://{host}{task.http_path}"
            )
        else:
            message = DNS_INSTRUCTIONS.format(name=task.dns_name, validation=task.dns_value)
        if not first:
            message += SUBSEQUENT_INSTRUCTIONS
        if task.kind == DNS01 and last:
            message += DNS_VERIFY_INSTRUCTIONS.format(name=task.dns_name)
        self.context.display.notify(message)
        self.context.display.pause("Press Enter to Continue")

    def cleanup(self, tasks: Sequence[ChallengeTask]) -> None:
        """Run the cleanup hook for each performed task (auth env + ``CERTBOT_AUTH_OUTPUT``).

        Tasks never performed (no auth hook run, no instructions shown) are skipped; a
        failing cleanup hook is logged as a warning. Never raises.
        """
        hook = self.options.manual_cleanup_hook
        for task in tasks:
            env = self._env.pop(task, None)
            if env is None or not hook:
                continue
            try:
                self.context.hooks.run(hook, env, what="manual cleanup hook")
            except HookError as exc:
                logger.warning("%s", exc.one_line())


# The plugin's contract, checked by mypy: instances of ManualAuthenticator are authenticators.
_authenticator: type[Authenticator] = ManualAuthenticator
