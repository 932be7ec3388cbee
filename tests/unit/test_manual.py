"""The manual plugin: certbot's hook environment, and instructions when interactive."""

from __future__ import annotations

from pathlib import Path

import pytest
from certbot_like_manual import PLUGIN, ManualOptions
from certbot_like_manual.authenticator import ManualAuthenticator

from certbot_like.errors import HookError, PluginError
from certbot_like.hooks import SubprocessHookRunner
from certbot_like.interfaces import Authenticator, ChallengeTask, Identifier, PluginContext

CERTBOT_VARS = (
    "CERTBOT_DOMAIN",
    "CERTBOT_VALIDATION",
    "CERTBOT_TOKEN",
    "CERTBOT_REMAINING_CHALLENGES",
    "CERTBOT_ALL_DOMAINS",
    "CERTBOT_AUTH_OUTPUT",
)


class FakeDisplay:
    def __init__(self, interactive: bool) -> None:
        self._interactive = interactive
        self.events: list[tuple[str, str]] = []

    @property
    def interactive(self) -> bool:
        return self._interactive

    def notify(self, message: str) -> None:
        self.events.append(("notify", message))

    def pause(self, message: str) -> None:
        if not self._interactive:
            raise PluginError("No one to press Enter")
        self.events.append(("pause", message))


def make_auth(
    tmp_path: Path,
    *,
    interactive: bool = False,
    auth: str | None = None,
    cleanup: str | None = None,
) -> tuple[ManualAuthenticator, FakeDisplay]:
    display = FakeDisplay(interactive)
    context = PluginContext(
        config_dir=tmp_path,
        work_dir=tmp_path,
        logs_dir=tmp_path,
        display=display,
        hooks=SubprocessHookRunner(timeout=30),
    )
    options = ManualOptions(manual_auth_hook=auth, manual_cleanup_hook=cleanup)
    plugin = PLUGIN.load_factory()(options, context)
    assert isinstance(plugin, ManualAuthenticator) and isinstance(plugin, Authenticator)
    return plugin, display


def http(name: str, token: str) -> ChallengeTask:
    return ChallengeTask(Identifier("dns", name), "http-01", token, f"{token}.thumb")


def dns(name: str, token: str) -> ChallengeTask:
    return ChallengeTask(Identifier("dns", name), "dns-01", token, f"{token}.thumb")


def probe(out_dir: Path, prefix: str) -> str:
    """A hook that dumps its CERTBOT_* environment (NUL-separated) to a numbered file."""
    return (
        f'n=$(ls "{out_dir}" | grep -c "^{prefix}"); '
        f'env -0 > "{out_dir}/{prefix}$n"; echo "output for $CERTBOT_DOMAIN"'
    )


def dumps(out_dir: Path, prefix: str) -> list[dict[str, str]]:
    found = []
    for path in sorted(out_dir.glob(f"{prefix}*"), key=lambda p: int(p.name[len(prefix) :])):
        pairs = (item.split("=", 1) for item in path.read_text().split("\0") if item)
        found.append(
            {
                k: v
                for k, v in pairs
                if k.startswith("CERTBOT_") and not k.startswith("CERTBOT_LIKE_")
            }
        )
    return found


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CERTBOT_VARS:
        monkeypatch.delenv(name, raising=False)


def test_hooks_get_exactly_certbots_variables(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    plugin, display = make_auth(tmp_path, auth=probe(out, "auth"), cleanup=probe(out, "clean"))
    tasks = [http("a.test", "tokA"), dns("*.b.test", "tokB"), dns("b.test", "tokC")]
    plugin.prepare(["http-01", "dns-01"])
    plugin.perform(tasks)
    all_domains = "a.test,b.test,b.test"
    assert dumps(out, "auth") == [
        {
            "CERTBOT_DOMAIN": "a.test",
            "CERTBOT_VALIDATION": "tokA.thumb",
            "CERTBOT_TOKEN": "tokA",
            "CERTBOT_REMAINING_CHALLENGES": "2",
            "CERTBOT_ALL_DOMAINS": all_domains,
        },
        {
            "CERTBOT_DOMAIN": "b.test",
            "CERTBOT_VALIDATION": tasks[1].dns_value,
            "CERTBOT_REMAINING_CHALLENGES": "1",
            "CERTBOT_ALL_DOMAINS": all_domains,
        },
        {
            "CERTBOT_DOMAIN": "b.test",
            "CERTBOT_VALIDATION": tasks[2].dns_value,
            "CERTBOT_REMAINING_CHALLENGES": "0",
            "CERTBOT_ALL_DOMAINS": all_domains,
        },
    ]
    assert tasks[1].dns_value != tasks[1].key_authorization
    plugin.cleanup(tasks)
    cleaned = dumps(out, "clean")
    assert [env.pop("CERTBOT_AUTH_OUTPUT") for env in cleaned] == [
        "output for a.test",
        "output for b.test",
        "output for b.test",
    ]
    assert cleaned == dumps(out, "auth")
    plugin.cleanup(tasks)  # twice: nothing more runs
    assert len(dumps(out, "clean")) == 3
    assert display.events == []


def test_hostile_values_stay_data(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    plugin, _ = make_auth(tmp_path, auth='test -n "$CERTBOT_VALIDATION"')
    evil = ChallengeTask(
        Identifier("dns", "a.test"), "http-01", "tok", f"$(touch {marker}); touch {marker}"
    )
    plugin.perform([evil])
    assert not marker.exists()


def test_cleanup_skips_tasks_never_performed_and_tolerates_failure(tmp_path: Path) -> None:
    log = tmp_path / "log"
    plugin, _ = make_auth(
        tmp_path, auth="true", cleanup=f'echo "$CERTBOT_DOMAIN" >> "{log}"; exit 1'
    )
    done, never = http("a.test", "tok1"), http("b.test", "tok2")
    plugin.perform([done])
    plugin.cleanup([done, never])  # the failing hook is only logged
    assert log.read_text() == "a.test\n"


def test_failing_auth_hook_raises_and_is_still_cleaned_up(tmp_path: Path) -> None:
    log = tmp_path / "log"
    plugin, _ = make_auth(
        tmp_path, auth="echo no DNS API >&2; exit 2", cleanup=f'echo "$CERTBOT_DOMAIN" >> "{log}"'
    )
    tasks = [dns("a.test", "t1"), dns("b.test", "t2")]
    with pytest.raises(HookError, match="manual auth hook failed with exit code 2"):
        plugin.perform(tasks)
    plugin.cleanup(tasks)
    assert log.read_text() == "a.test\n"


def test_non_interactive_without_hook_fails_in_prepare(tmp_path: Path) -> None:
    plugin, display = make_auth(tmp_path, interactive=False)
    with pytest.raises(PluginError, match="needs --manual-auth-hook when running non-inter"):
        plugin.prepare(["http-01"])
    assert display.events == []


def test_interactive_shows_certbots_instructions_and_pauses(tmp_path: Path) -> None:
    plugin, display = make_auth(tmp_path, interactive=True)
    tasks = [http("a.test", "tokA"), dns("*.b.test", "tokB")]
    plugin.prepare(["http-01", "dns-01"])
    plugin.perform(tasks)
    kinds = [kind for kind, _ in display.events]
    assert kinds == ["notify", "pause", "notify", "pause"]
    http_text, dns_text = display.events[0][1], display.events[2][1]
    assert http_text == (
        "Create a file containing just this data:\n\ntokA.thumb\n\n"
        "And make it available on your web server at this URL:\n\n"
        "http://a.test/.well-known/acme-challenge/tokA"
    )
    assert dns_text.startswith(
        "Please deploy a DNS TXT record under the name:\n\n_acme-challenge.b.test.\n\n"
        f"with the following value:\n\n{tasks[1].dns_value}\n\n(This must be set up in "
    )
    assert "verify the TXT record" in dns_text
    assert display.events[1][1] == "Press Enter to Continue"
    plugin.cleanup(tasks)


def test_preferred_challenges(tmp_path: Path) -> None:
    plugin, _ = make_auth(tmp_path, auth="true")
    assert list(plugin.preferred_challenges(Identifier("dns", "a.test"))) == ["http-01", "dns-01"]
    assert list(plugin.preferred_challenges(Identifier("dns", "*.a.test"))) == ["dns-01"]
    assert list(plugin.preferred_challenges(Identifier("ip", "192.0.2.1"))) == ["http-01"]


def test_options_are_certbots() -> None:
    flags = {f.name: f.metadata["flags"] for f in PLUGIN.option_fields()}
    assert flags == {
        "manual_auth_hook": ("--manual-auth-hook",),
        "manual_cleanup_hook": ("--manual-cleanup-hook",),
        "manual_public_ip_logging_ok": ("--manual-public-ip-logging-ok",),
    }
    hidden = {f.name for f in PLUGIN.option_fields() if f.metadata["hidden"]}
    assert hidden == {"manual_public_ip_logging_ok"}
    assert ManualOptions() == ManualOptions(None, None, False)
