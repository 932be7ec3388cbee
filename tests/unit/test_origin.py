"""Origins: normalisation, the policy, and where the client applies it (issue 18).

The end-to-end proofs (the fake CA pointing each kind of URL elsewhere) are in
tests/integration/test_ca_origin.py; these pin the comparison itself and the client's
redirect rules with a scripted transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwk import JWKEC

from certbot_like.cli.runtime import allowed_origins
from certbot_like.errors import ConfigError, ForeignOriginError, ProtocolViolation, UsageError
from certbot_like.protocol.client import AcmeClient, Directory
from certbot_like.protocol.http import HttpResponse
from certbot_like.protocol.origin import Origin, OriginPolicy, origin_of, parse_origin
from certbot_like.services.renew_request import ca_for
from certbot_like.settings import CaSettings
from certbot_like.storage.renewal_params import RenewalParams

CA = "https://acme.example:8443/dir"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://ACME.Example/x", "https://acme.example/y"),  # case
        ("HTTPS://acme.example/", "https://acme.example/"),  # scheme case
        ("https://acme.example:443/dir", "https://acme.example/order"),  # default port
        ("https://acme.example./dir", "https://acme.example/dir"),  # trailing dot
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),  # IDN as A-label
        ("https://BÜCHER.example:443/", "https://xn--bcher-kva.example/"),
        ("https://[::1]:8443/", "https://[0:0:0:0:0:0:0:1]:8443/x"),  # IPv6 forms
        ("https://[2001:DB8::A]/", "https://[2001:db8:0::a]:443/"),
        ("https://127.0.0.1:14000/a?b#c", "https://127.0.0.1:14000/"),
    ],
)
def test_equivalent_spellings_are_one_origin(a: str, b: str) -> None:
    assert origin_of(a) is not None and origin_of(a) == origin_of(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://acme.example/", "https://acme.example:8443/"),  # another port
        ("https://127.0.0.1:14000/", "https://127.0.0.1:14001/"),
        ("https://acme.example/", "https://evil.example/"),  # another host
        ("https://acme.example/", "https://acme.example.evil.example/"),
        ("https://acme.example/", "http://acme.example/"),  # another scheme
        ("https://127.0.0.1/", "https://127.1/"),  # not canonical: refused, never guessed
        ("https://127.0.0.1/", "https://[::ffff:127.0.0.1]/"),
        ("https://acme.example/", "https://acme.example@evil.example/"),  # user info trick
    ],
)
def test_other_origins_differ(a: str, b: str) -> None:
    assert origin_of(a) != origin_of(b)


@pytest.mark.parametrize(
    "url",
    [
        "acme.example/dir",
        "ftp://acme.example/",
        "https:///dir",
        "https://[::1/dir",
        "https://a..example/",
        "https://.example/",
        "https://example../",
        "https://ex%41mple.com/",
        "https://" + "a" * 64 + ".example/",  # a label over 63 octets
    ],
)
def test_urls_without_a_usable_origin_give_none(url: str) -> None:
    assert origin_of(url) is None


def test_origin_text_brackets_ipv6_and_omits_the_default_port() -> None:
    assert str(Origin("https", "::1", 443)) == "https://[::1]"
    assert str(Origin("https", "acme.example", 8443)) == "https://acme.example:8443"


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("https://Acme.Example:8443", "https://acme.example:8443"),
        ("https://acme.example:443/", "https://acme.example"),
        (" https://[::1]:9000 ", "https://[::1]:9000"),
    ],
)
def test_allowed_origin_values_are_normalised(text: str, normal: str) -> None:
    assert str(parse_origin(text)) == normal


@pytest.mark.parametrize(
    "text",
    [
        "http://acme.example",
        "acme.example",
        "https://acme.example/acme",
        "https://acme.example/?x",
        "https://acme.example/#x",
        "https://user@acme.example",
        "https://",
    ],
)
def test_other_allowed_origin_values_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_origin(text)


def test_refusal_is_one_line_naming_the_url_and_the_expected_origin() -> None:
    policy = OriginPolicy(CA)
    with pytest.raises(ForeignOriginError) as info:
        policy.check("https://acme.example:9443/order/1", "the order URL")
    err = info.value
    assert err.exit_code == 10 and isinstance(err, ProtocolViolation)
    line = err.one_line()
    assert "\n" not in line
    assert line.startswith(
        "The CA pointed the order URL at https://acme.example:9443/order/1, "
        "which is not its origin https://acme.example:8443."
    )
    assert "--ca-allow-origin" in line


def test_a_url_on_the_origin_passes_unchanged() -> None:
    url = "https://ACME.example.:8443/order/1"
    assert OriginPolicy(CA).check(url, "the order URL") == url


def test_scheme_and_shape_are_checked_before_the_origin() -> None:
    policy = OriginPolicy(CA)
    with pytest.raises(ProtocolViolation, match="non-HTTPS") as info:
        policy.check("http://acme.example:8443/x", "the order URL")
    assert not isinstance(info.value, ForeignOriginError)
    with pytest.raises(ProtocolViolation, match="no valid URL"):
        policy.check(None, "the order URL")


def test_allowed_origins_widen_the_policy_and_are_named_in_the_refusal() -> None:
    policy = OriginPolicy(CA, ["https://cdn.example", "https://acme.example:8443"])
    assert policy.allows("https://cdn.example:443/cert/1")
    assert policy.extra == (Origin("https", "cdn.example", 443),)  # the home origin is not extra
    with pytest.raises(ForeignOriginError, match=r"or an allowed one \(https://cdn.example\)"):
        policy.check("https://other.example/x", "the certificate URL")


def test_a_bad_stored_allowed_origin_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ca_allow_origin"):
        OriginPolicy(CA, ["http://cdn.example"])


# -- the directory ---------------------------------------------------------------------------

DIRECTORY = {
    "newNonce": "https://acme.example:8443/nonce",
    "newAccount": "https://acme.example:8443/acct",
    "newOrder": "https://acme.example:8443/order",
    "keyChange": "https://acme.example:8443/kc",
    "renewalInfo": "https://acme.example:8443/ari/",
}


@pytest.mark.parametrize("key", sorted(DIRECTORY))
def test_every_directory_url_must_be_on_the_origin(key: str) -> None:
    doc = dict(DIRECTORY, **{key: "https://acme.example:9999/x"})
    with pytest.raises(ForeignOriginError, match=f"pointed {key} at https://acme.example:9999"):
        Directory.parse(CA, doc)
    allowed = OriginPolicy(CA, ["https://acme.example:9999"])
    assert Directory.parse(CA, doc, allowed).raw[key] == "https://acme.example:9999/x"


# -- the client: sends and redirects ----------------------------------------------------------

Answer = Callable[[str, str], HttpResponse]


class ScriptedTransport:
    """Answers with *answer(method, url)* and records every request."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str, url: str, **kw: Any) -> HttpResponse:
        self.sent.append((method, url))
        return self.answer(method, url)

    def close(self) -> None:
        pass


def reply(url: str, status: int, body: bytes = b"{}", **headers: str) -> HttpResponse:
    return HttpResponse(url, status, {"Replay-Nonce": "n" * 22, **headers}, body)


def client_with(answer: Answer) -> tuple[AcmeClient, ScriptedTransport]:
    transport = ScriptedTransport(answer)
    client = AcmeClient(cast(Any, transport), CA)
    client.use_directory(Directory.parse(CA, DIRECTORY))
    client.set_account(JWKEC(key=ec.generate_private_key(ec.SECP256R1())), CA + "/acct/1")
    return client, transport


def test_get_follows_a_relative_redirect_within_the_origin() -> None:
    def answer(method: str, url: str) -> HttpResponse:
        if url.endswith("/old"):
            return reply(url, 301, Location="/ari/new")
        return reply(url, 200, b'{"ok": true}')

    client, transport = client_with(answer)
    resp = client.get("https://acme.example:8443/old", what="the renewalInfo URL")
    assert resp.json_object() == {"ok": True}
    assert [u for _, u in transport.sent] == [
        "https://acme.example:8443/old",
        "https://acme.example:8443/ari/new",
    ]


def test_get_refuses_a_redirect_to_another_origin_without_sending_there() -> None:
    client, transport = client_with(lambda m, u: reply(u, 302, Location="https://evil.example/dir"))
    with pytest.raises(ForeignOriginError, match="a redirect of the directory"):
        client.get(CA, what="the directory")
    assert transport.sent == [("GET", CA)]


def test_get_gives_up_after_three_redirects() -> None:
    client, transport = client_with(lambda m, u: reply(u, 308, Location=u))
    with pytest.raises(ProtocolViolation, match="more than 3 times"):
        client.get(CA, what="the directory")
    assert len(transport.sent) == 4


def test_signed_post_is_never_redirected() -> None:
    def answer(method: str, url: str) -> HttpResponse:
        if method == "HEAD":
            return reply(url, 200, b"")
        return reply(url, 307, Location="https://acme.example:8443/elsewhere")

    client, transport = client_with(answer)
    with pytest.raises(ProtocolViolation, match="redirect") as info:
        client.post("https://acme.example:8443/order", {}, what="the new order")
    assert not isinstance(info.value, ForeignOriginError)
    assert [m for m, _ in transport.sent] == ["HEAD", "POST"]  # a nonce, then one POST


def test_nothing_is_signed_for_or_sent_to_another_origin() -> None:
    client, transport = client_with(lambda m, u: reply(u, 200))
    with pytest.raises(ForeignOriginError):
        client.post("https://acme.example:9443/acct/1", None, what="the account lookup")
    assert transport.sent == []


# -- settings: CLI values, renewal conf, renew --------------------------------------------------


def test_cli_values_are_normalised_split_and_deduplicated() -> None:
    values = ["https://CDN.example:443/", "https://cdn.example,https://b.example:8443"]
    assert allowed_origins(values) == ("https://cdn.example", "https://b.example:8443")


def test_a_bad_cli_value_is_a_usage_error_naming_the_flag() -> None:
    with pytest.raises(UsageError, match=r"--ca-allow-origin 'http://cdn\.example'"):
        allowed_origins(["http://cdn.example"])


def test_renewal_conf_round_trips_the_allowed_origins() -> None:
    params = RenewalParams.from_conf(
        {"ca_allow_origin": ["https://a.example", "https://b.example:8443"]}
    )
    assert params.ca_allow_origin == ("https://a.example", "https://b.example:8443")
    conf = params.to_conf()
    assert conf["ca_allow_origin"] == ["https://a.example", "https://b.example:8443"]
    assert RenewalParams.from_conf(conf) == params
    assert RenewalParams.from_conf({"ca_allow_origin": "https://a.example"}).ca_allow_origin == (
        "https://a.example",
    )
    assert "ca_allow_origin" not in RenewalParams().to_conf()


def test_renew_uses_the_stored_origins_unless_the_command_line_names_some() -> None:
    params = RenewalParams(server=CA, ca_allow_origin=("https://a.example",))
    kw: dict[str, Any] = {"server_override": None, "bundle_override": None, "dry_run": False}
    assert ca_for(params, CaSettings(), **kw).allow_origins == ("https://a.example",)
    cli = CaSettings(allow_origins=("https://b.example",))
    assert ca_for(params, cli, **kw).allow_origins == ("https://b.example",)
