"""nginx's server selection rules, and where deployments, redirects and challenges go."""

from __future__ import annotations

import pytest
from certbot_like_nginx.choice import (
    NothingServes,
    choose_challenge,
    choose_deploy,
    choose_redirect,
)
from certbot_like_nginx.selection import (
    Address,
    Ambiguity,
    Listen,
    Server,
    addresses,
    default_server,
    host_for,
    is_ssl,
    lookup,
    name_rule,
    parse_listen,
    serving,
)


def listen(*args: str) -> list[Listen]:
    return parse_listen(args, resolve=lambda host: {"localhost": ["127.0.0.1", "::1"]}[host])


def server(index: int, names: str, *listens: str) -> Server:
    parsed = [item for spec in listens for item in listen(*spec.split())]
    return Server(index, f"site:{index}", tuple(names.split()) or ("",), tuple(parsed))


ANY80 = Address("*", 80)


# -- listen ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "host", "port"),
    [
        ("80", "*", 80),
        ("8080", "*", 8080),
        ("*:81", "*", 81),
        ("0.0.0.0:82", "*", 82),
        ("127.0.0.1", "127.0.0.1", 80),
        ("127.0.0.1:8443", "127.0.0.1", 8443),
        ("[::]:80", "[::]", 80),
        ("[::]", "[::]", 80),
        ("[0:0::0]:443", "[::]", 443),
        ("[::1]:443", "[::1]", 443),
        ("[2001:DB8::0001]:443", "[2001:db8::1]", 443),
    ],
)
def test_listen_addresses_are_normalised_like_nginx(spec: str, host: str, port: int) -> None:
    assert listen(spec) == [Listen(Address(host, port))]


def test_listen_parameters_ssl_and_default_server() -> None:
    (item,) = listen("[::]:443", "ssl", "http2", "ipv6only=on", "default_server")
    assert item == Listen(Address("[::]", 443), ssl=True, default=True)
    assert listen("80", "default")[0].default  # the old spelling


def test_a_host_name_in_listen_listens_on_each_of_its_addresses() -> None:
    assert [i.address for i in listen("localhost:8080")] == [
        Address("127.0.0.1", 8080),
        Address("[::1]", 8080),
    ]


def test_unix_sockets_and_quic_are_no_tcp_listens() -> None:
    assert listen("unix:/run/nginx.sock") == []
    assert listen("443", "quic", "reuseport") == []


@pytest.mark.parametrize("spec", ["[::1", "[::1]x", "99999", "host:0", "a:b"])
def test_malformed_listen_is_rejected(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_listen([spec], resolve=lambda host: [])


def test_a_block_without_listen_listens_on_port_80() -> None:
    from certbot_like_nginx.selection import default_listens

    assert default_listens() == (Listen(ANY80),)


# -- names ----------------------------------------------------------------------------------


def test_exact_beats_leading_wildcard_beats_trailing_beats_regex() -> None:
    servers = [
        server(0, "~^www\\.", "80"),
        server(1, "www.*", "80"),
        server(2, "*.example.com", "80"),
        server(3, "www.example.com", "80"),
    ]
    assert lookup(servers, ANY80, "www.example.com").server.index == 3
    assert lookup(servers[:3], ANY80, "www.example.com").server.index == 2
    assert lookup(servers[:2], ANY80, "www.example.com").server.index == 1
    match = lookup(servers[:1], ANY80, "www.example.com")
    assert (match.server.index, match.how) == (0, "regex")


def test_the_longest_leading_wildcard_wins() -> None:
    servers = [server(0, "*.example.com", "80"), server(1, "*.shop.example.com", "80")]
    assert lookup(servers, ANY80, "a.shop.example.com").server.index == 1
    assert lookup(servers, ANY80, "a.blog.example.com").server.index == 0


def test_a_leading_wildcard_matches_several_labels_but_not_the_bare_domain() -> None:
    servers = [server(0, "*.example.com", "80"), server(1, "other.test", "80")]
    assert lookup(servers, ANY80, "a.b.example.com").server.index == 0
    assert lookup(servers, ANY80, "example.com").how == "default"


def test_dot_form_matches_the_domain_and_its_subdomains_but_loses_to_an_exact_name() -> None:
    servers = [server(0, ".example.com", "80"), server(1, "example.com", "80")]
    assert lookup(servers[:1], ANY80, "example.com").how == "wildcard"
    assert lookup(servers[:1], ANY80, "x.example.com").server.index == 0
    assert lookup(servers, ANY80, "example.com").server.index == 1


def test_the_longest_trailing_wildcard_wins_and_needs_more_labels() -> None:
    servers = [server(0, "mail.*", "80"), server(1, "mail.example.*", "80")]
    assert lookup(servers, ANY80, "mail.example.org").server.index == 1
    assert lookup(servers, ANY80, "mail.other.org").server.index == 0
    assert lookup(servers, ANY80, "mail").how == "default"


def test_regular_expressions_are_tried_in_configuration_order() -> None:
    servers = [
        server(0, "~^(?<app>[a-z]+)\\.apps\\.example\\.com$", "80"),
        server(1, "~\\.example\\.com$", "80"),
    ]
    assert lookup(servers, ANY80, "shop.apps.example.com").server.index == 0
    assert lookup(servers, ANY80, "blog.example.com").server.index == 1
    assert lookup(servers, ANY80, "SHOP.apps.example.com.").server.index == 0


def test_a_regex_with_upper_case_letters_is_case_insensitive_like_nginx() -> None:
    assert name_rule("~^WWW\\.").matches("www.example.com")
    assert not name_rule("~^Www\\.x$").matches("www.y")
    assert name_rule("~(?'lbl'[a-z]+)\\.test$").matches("a.test")  # PCRE's (?'name')


def test_names_are_compared_without_case_and_trailing_dot() -> None:
    servers = [server(0, "Example.COM.", "80"), server(1, "_", "80")]
    assert lookup(servers, ANY80, "EXAMPLE.com.").server.index == 0


def test_the_default_server_answers_unknown_names() -> None:
    servers = [server(0, "a.test", "80"), server(1, "_", "80 default_server")]
    match = lookup(servers, ANY80, "unknown.test")
    assert (match.server.index, match.how, match.by_name) == (1, "default", False)
    assert lookup([*servers[:1], server(1, "b.test", "80")], ANY80, "x.test").server.index == 0


def test_two_default_servers_on_one_address_are_refused() -> None:
    servers = [server(0, "a", "80 default_server"), server(1, "b", "80 default_server")]
    with pytest.raises(Ambiguity, match="default_server on \\*:80: site:0, site:1"):
        default_server(servers, ANY80)


def test_the_same_name_in_two_blocks_on_one_address_is_ambiguous() -> None:
    servers = [server(0, "dup.test", "80"), server(1, "www.dup.test dup.test", "80")]
    with pytest.raises(Ambiguity) as raised:
        lookup(servers, ANY80, "dup.test")
    assert "site:0, site:1" in raised.value.message
    assert "nginx uses the first" in raised.value.message
    assert "Remove dup.test from all but one" in raised.value.hint
    assert lookup(servers, ANY80, "www.dup.test").server.index == 1


def test_the_same_name_on_different_addresses_is_no_conflict() -> None:
    servers = [server(0, "a.test", "127.0.0.1:80"), server(1, "a.test", "[::1]:80")]
    assert [m.server.index for _, m in serving(servers, 80, "a.test")] == [0, 1]


def test_an_uncompilable_regex_is_ambiguous_only_when_it_could_decide() -> None:
    servers = [server(0, "~(?<=bad", "80"), server(1, "exact.test", "80")]
    assert lookup(servers, ANY80, "exact.test").server.index == 1
    with pytest.raises(Ambiguity, match="Cannot evaluate server_name"):
        lookup(servers, ANY80, "other.test")


def test_a_server_on_a_specific_address_is_not_used_for_the_wildcard_one() -> None:
    servers = [
        server(0, "a.test", "127.0.0.1:80"),
        server(1, "_", "80"),
    ]
    assert addresses(servers, 80) == [Address("127.0.0.1", 80), ANY80]
    assert lookup(servers, Address("127.0.0.1", 80), "a.test").server.index == 0
    assert lookup(servers, ANY80, "a.test").server.index == 1  # other addresses
    # and a *:80 server is not used for connections to 127.0.0.1 either
    assert lookup(servers, Address("127.0.0.1", 80), "b.test").server.index == 0


def test_ssl_is_a_property_of_the_address() -> None:
    servers = [server(0, "a", "443 ssl"), server(1, "b", "443"), server(2, "c", "8443")]
    assert is_ssl(servers, Address("*", 443))
    assert not is_ssl(servers, Address("*", 8443))


def test_wildcard_certificate_names_are_probed_with_an_unnamed_label() -> None:
    assert host_for("*.Example.net") == "certbot-like-wildcard-probe.example.net"
    assert host_for("www.example.net.") == "www.example.net"


# -- where things go ------------------------------------------------------------------------


def test_deploy_prefers_existing_https_blocks_by_name() -> None:
    servers = [
        server(0, "a.test", "80"),
        server(1, "a.test", "443 ssl"),
        server(2, "_", "443 ssl default_server"),
    ]
    choice = choose_deploy(servers, ["a.test"], 80, 443)
    assert [s.index for s in choice.https] == [1]
    assert choice.copies == []


def test_a_name_only_on_http_gets_an_https_copy_not_the_https_catch_all() -> None:
    servers = [
        server(0, "a.test www.a.test", "80", "[::]:80"),
        server(1, "_", "443 ssl default_server"),
    ]
    choice = choose_deploy(servers, ["a.test", "www.a.test"], 80, 443)
    assert choice.https == []
    assert [(c.server.index, c.names) for c in choice.copies] == [(0, None)]


def test_a_name_nothing_names_gets_a_copy_of_the_http_default_server_named_for_it() -> None:
    servers = [server(0, "_", "80 default_server", "[::]:80 default_server")]
    choice = choose_deploy(servers, ["fresh.test", "www.fresh.test"], 80, 443)
    assert [(c.server.index, c.names) for c in choice.copies] == [
        (0, ("fresh.test", "www.fresh.test"))
    ]


def test_different_default_servers_for_an_unnamed_name_are_ambiguous() -> None:
    servers = [server(0, "_", "80"), server(1, "_6", "[::]:80")]
    with pytest.raises(Ambiguity, match=r"different default servers: site:0 \(on \*:80\)"):
        choose_deploy(servers, ["fresh.test"], 80, 443)


def test_nothing_serving_a_name_is_reported() -> None:
    with pytest.raises(NothingServes, match=r"No server block serves a\.test"):
        choose_deploy([server(0, "b.test", "8080")], ["a.test"], 80, 443)


def test_a_block_naming_the_name_on_the_https_port_without_tls_is_refused() -> None:
    with pytest.raises(Ambiguity, match="without TLS"):
        choose_deploy([server(0, "a.test", "443")], ["a.test"], 80, 443)


def test_a_copy_drops_names_other_https_blocks_already_claim() -> None:
    servers = [
        server(0, "a.test b.test", "80"),
        server(1, "a.test", "443 ssl"),
    ]
    choice = choose_deploy(servers, ["a.test", "b.test"], 80, 443)
    assert [s.index for s in choice.https] == [1]
    assert [(c.server.index, c.names) for c in choice.copies] == [(0, ("b.test",))]


def test_a_wildcard_certificate_goes_to_the_wildcard_block_not_exact_ones() -> None:
    servers = [server(0, "*.example.net", "80"), server(1, "www.example.net", "80")]
    choice = choose_deploy(servers, ["*.example.net"], 80, 443)
    assert [c.server.index for c in choice.copies] == [0]


def test_custom_ports_are_honoured() -> None:
    servers = [server(0, "a.test", "8080"), server(1, "a.test", "80")]
    assert [c.server.index for c in choose_deploy(servers, ["a.test"], 8080, 8443).copies] == [0]


def test_redirects_go_to_whatever_answers_plain_http_including_the_default() -> None:
    servers = [
        server(0, "a.test", "80"),
        server(1, "_", "80 default_server", "[::]:80"),
        server(2, "a.test", "443 ssl"),
    ]
    chosen = choose_redirect(servers, ["a.test", "b.test"], 80)
    # on [::]:80 only the default block listens, so it answers a.test there too
    assert {i: names for i, (_, names) in chosen.items()} == {
        0: ["a.test"],
        1: ["a.test", "b.test"],
    }


def test_challenges_go_to_the_answering_block_on_each_plain_address() -> None:
    servers = [
        server(0, "a.test", "127.0.0.1:80"),
        server(1, "_", "80"),
        server(2, "a.test", "443 ssl"),
    ]
    assert [s.index for s in choose_challenge(servers, "a.test", 80)] == [0, 1]
    assert choose_challenge(servers, "a.test", 8080) == []
