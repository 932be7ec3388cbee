"""The DNS authenticator base: grouping, one wait, exact cleanup, delegation, options."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
from certbot_like_dns import DnsOptions, absolute_paths
from certbot_like_dns.base import DnsAuthenticator
from certbot_like_dns.delegation import follow_cnames
from certbot_like_dns.lookup import parse_server
from certbot_like_dns_acmedns import AcmeDnsOptions
from certbot_like_dns_lexicon import LexiconOptions
from certbot_like_dns_rfc2136 import Rfc2136Options

from certbot_like.errors import PluginError, UsageError
from certbot_like.interfaces import Authenticator, ChallengeTask, Identifier
from certbot_like.plugin_options import field_kinds
from tests.unit.dns_support import dns_task, make_context


@dataclasses.dataclass(frozen=True)
class FakeOptions(DnsOptions):
    dns_fake_propagation_seconds: int | None = None


class FakeDns(DnsAuthenticator[FakeOptions]):
    """Records calls; CNAMEs from a dict; propagation replaced by a recorder."""

    plugin_name = "dns-fake"

    def __init__(self, tmp_path: Path, cnames: dict[str, str] | None = None, **opts: Any) -> None:
        context, _, self.display = make_context(tmp_path)
        super().__init__(FakeOptions(**opts), context)
        self.cnames = cnames or {}
        self.calls: list[tuple[str, str, str]] = []
        self.waits: list[dict[str, set[str]]] = []
        self.fail_add_on: int | None = None
        self.fail_del = False
        self.setups = 0
        self.real_wait = False

    def setup(self) -> None:
        self.setups += 1

    @property
    def lookup(self) -> Any:  # CNAMEs come from self.cnames
        return self

    def cname(self, name: str) -> str | None:
        return self.cnames.get(name)

    def add_txt(self, domain: str, fqdn: str, value: str) -> None:
        self.calls.append(("add", fqdn, value))
        if self.fail_add_on is not None and len(self.calls) == self.fail_add_on:
            raise PluginError(f"cannot add at {fqdn}", "Check the server")

    def del_txt(self, domain: str, fqdn: str, value: str) -> None:
        self.calls.append(("del", fqdn, value))
        if self.fail_del:
            raise PluginError("server gone")

    def _wait(self, expected: dict[str, set[str]]) -> None:
        if self.real_wait:
            super()._wait(expected)
            return
        self.waits.append({k: set(v) for k, v in expected.items()})


def follow_chain(chain: dict[str, str], name: str) -> list[str]:
    class Source:
        def cname(self, n: str) -> str | None:
            return chain.get(n)

    return follow_cnames(name, Source())


def test_apex_and_wildcard_share_one_name_and_one_wait(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path)
    assert isinstance(plugin, Authenticator)
    tasks = [dns_task("example.com", "a"), dns_task("*.example.com", "b"), dns_task("www.x.org")]
    plugin.prepare(["dns-01"])
    plugin.perform(tasks)
    adds = [c for c in plugin.calls if c[0] == "add"]
    assert [a[1] for a in adds] == [
        "_acme-challenge.example.com",
        "_acme-challenge.example.com",
        "_acme-challenge.www.x.org",
    ]
    assert plugin.waits == [
        {
            "_acme-challenge.example.com": {tasks[0].dns_value, tasks[1].dns_value},
            "_acme-challenge.www.x.org": {tasks[2].dns_value},
        }
    ]
    assert plugin.setups == 1
    plugin.cleanup(tasks)
    assert sorted(c[1:] for c in plugin.calls if c[0] == "del") == sorted(a[1:] for a in adds)


def test_cleanup_after_a_partial_perform_removes_only_what_was_attempted(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path)
    plugin.fail_add_on = 2
    tasks = [dns_task("a.example.com", "a"), dns_task("b.example.com", "b"), dns_task("c.com")]
    with pytest.raises(PluginError, match=r"cannot add at _acme-challenge\.b\.example\.com"):
        plugin.perform(tasks)
    assert plugin.waits == []
    plugin.cleanup(tasks)
    deleted = [c[1] for c in plugin.calls if c[0] == "del"]
    assert deleted == ["_acme-challenge.a.example.com", "_acme-challenge.b.example.com"]
    plugin.cleanup(tasks)  # a second cleanup deletes nothing more
    assert [c[1] for c in plugin.calls if c[0] == "del"] == deleted


def test_cleanup_tolerates_tasks_never_performed_and_an_empty_list(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path)
    plugin.prepare(["dns-01"])
    plugin.cleanup([])
    plugin.cleanup([dns_task("never.example.com")])
    assert plugin.calls == []


def test_a_record_shared_by_two_tasks_stays_until_both_are_cleaned(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path)
    first = ChallengeTask(Identifier("dns", "example.com"), "dns-01", "t1", "same.keyauth")
    second = ChallengeTask(Identifier("dns", "*.example.com"), "dns-01", "t2", "same.keyauth")
    plugin.perform([first, second])
    assert len([c for c in plugin.calls if c[0] == "add"]) == 1
    plugin.cleanup([first])
    assert not [c for c in plugin.calls if c[0] == "del"]
    plugin.cleanup([second])
    assert len([c for c in plugin.calls if c[0] == "del"]) == 1


def test_a_failing_delete_is_reported_not_raised(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path)
    plugin.fail_del = True
    task = dns_task("example.com")
    plugin.perform([task])
    plugin.cleanup([task])
    assert any(
        "Could not remove the TXT record at _acme-challenge.example.com" in m
        and "server gone" in m
        and "Remove it by hand" in m
        for m in plugin.display.messages
    )


def test_records_go_to_the_end_of_the_cname_chain(tmp_path: Path) -> None:
    cnames = {
        "_acme-challenge.example.com": "_acme-challenge.example.com.auth.example.net.",
        "_acme-challenge.example.com.auth.example.net": "final.example.org",
    }
    plugin = FakeDns(tmp_path, cnames)
    task = dns_task("*.example.com")
    plugin.perform([task])
    assert plugin.calls == [("add", "final.example.org", task.dns_value)]
    assert plugin.waits == [{"final.example.org": {task.dns_value}}]


def test_an_error_at_a_delegated_name_mentions_the_cname(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path, {"_acme-challenge.example.com": "target.example.net"})
    plugin.fail_add_on = 1
    with pytest.raises(PluginError) as err:
        plugin.perform([dns_task("example.com")])
    assert "_acme-challenge.example.com is a CNAME to target.example.net" in err.value.one_line()


def test_cname_loops_and_long_chains_are_refused() -> None:
    assert follow_chain({}, "_acme-challenge.a.com") == ["_acme-challenge.a.com"]
    loop = {"x.com": "y.com.", "y.com": "X.com"}
    with pytest.raises(PluginError, match=r"CNAME loop at x\.com: x\.com -> y\.com -> X\.com"):
        follow_chain(loop, "x.com")
    long = {f"n{i}.com": f"n{i + 1}.com" for i in range(20)}
    with pytest.raises(PluginError, match="longer than 8"):
        follow_chain(long, "n0.com")
    assert follow_chain(long, "n12.com")[-1] == "n20.com"  # 8 CNAMEs are fine


def test_only_dns01_and_no_ip_addresses(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path)
    assert plugin.preferred_challenges(Identifier("dns", "*.example.com")) == ["dns-01"]
    assert plugin.preferred_challenges(Identifier("ip", "192.0.2.1")) == []
    http = ChallengeTask(Identifier("dns", "example.com"), "http-01", "tok", "tok.thumb")
    with pytest.raises(PluginError, match="answers only dns-01"):
        plugin.perform([http])


def test_fixed_propagation_wait_is_announced_like_certbot(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path, dns_fake_propagation_seconds=0)
    plugin.real_wait = True
    plugin.perform([dns_task("example.com")])
    assert plugin.display.messages == ["Waiting 0 seconds for DNS changes to propagate"]


def test_a_non_positive_propagation_timeout_is_refused(tmp_path: Path) -> None:
    plugin = FakeDns(tmp_path, dns_propagation_timeout=0)
    with pytest.raises(PluginError, match="--dns-propagation-timeout must be positive"):
        plugin.prepare(["dns-01"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
        ("localhost:99", ("127.0.0.1", 99)),
    ],
)
def test_resolver_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1:0", "127.0.0.1:x", ":53", "no-such-host.invalid"])
def test_bad_resolver_addresses(text: str) -> None:
    with pytest.raises(UsageError, match="--dns-resolver"):
        parse_server(text)


def test_every_dns_plugin_declares_the_shared_options_identically() -> None:
    """The CLI merges plugin flags by field name: the shared ones must be the same."""

    def shared(cls: type[Any]) -> list[tuple[str, Any, Any, Any]]:
        return [
            (k.name, k.flags, k.default, k.field.metadata["help"])
            for k in field_kinds(cls)
            if k.name in {"dns_propagation_timeout", "dns_resolver", "dns_nameserver_port"}
        ]

    reference = shared(Rfc2136Options)
    assert [r[0] for r in reference] == [
        "dns_propagation_timeout",
        "dns_resolver",
        "dns_nameserver_port",
    ]
    assert shared(AcmeDnsOptions) == reference
    assert shared(LexiconOptions) == reference
    assert [r[2] for r in reference] == [120.0, None, 53]


def test_credentials_paths_are_stored_absolute(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    resolve = absolute_paths("dns_rfc2136_credentials")
    options = resolve(Rfc2136Options(dns_rfc2136_credentials="rfc2136.ini"), [])
    assert options.dns_rfc2136_credentials == os.path.join(str(tmp_path), "rfc2136.ini")
    assert resolve(Rfc2136Options(), []) == Rfc2136Options()
