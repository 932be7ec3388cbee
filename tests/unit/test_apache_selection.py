"""Choosing VirtualHosts the way Apache does (pure: no Apache, no Augeas)."""

from __future__ import annotations

import pytest
from certbot_like_apache.selection import (
    Address,
    AmbiguousVhost,
    NoVhost,
    VHost,
    address_groups,
    choose,
    pattern_matches,
    serving,
)

_lines = iter(range(1, 10_000))


def vhost(
    name: str | None,
    *aliases: str,
    addresses: tuple[str, ...] = ("*:80",),
    file: str = "/etc/apache2/sites-available/site.conf",
    inherited: str | None = None,
) -> VHost:
    line = next(_lines)
    return VHost(
        key=f"{file}#{line}",
        file=file,
        line=line,
        addresses=tuple(Address.parse(a) for a in addresses),
        server_name=name,
        aliases=aliases,
        inherited_name=inherited,
    )


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("*:80", "*", "80"),
        ("_default_:443", "_default_", "443"),
        ("192.0.2.1", "192.0.2.1", ""),
        ("[2001:DB8::1]:8443", "[2001:db8::1]", "8443"),
        ("2001:db8::1", "[2001:db8::1]", ""),
        ('"*:*"', "*", "*"),
        ("Example.COM:80", "example.com", "80"),
    ],
)
def test_addresses_parse_like_apache(text: str, host: str, port: str) -> None:
    address = Address.parse(text)
    assert (address.host, address.port) == (host, port)


def test_an_address_without_port_or_with_star_serves_every_port() -> None:
    assert Address.parse("192.0.2.1").serves_port(8080)
    assert Address.parse("*:*").serves_port(443)
    assert not Address.parse("*:80").serves_port(443)
    assert str(Address.parse("[::1]:80").with_port(443)) == "[::1]:443"


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "a.b.example.com", True),  # Apache's * crosses dots
        ("*.example.com", "example.com", False),
        ("www?.example.com", "www1.example.com", True),
        ("WWW.*", "www.example.org", True),
        ("[ab].example.com", "a.example.com", False),  # no character classes in Apache
    ],
)
def test_wildcard_aliases_match_like_ap_strcasecmp_match(
    pattern: str, name: str, matches: bool
) -> None:
    assert pattern_matches(pattern, name) is matches


def test_server_name_and_alias_match_exactly_and_case_insensitively() -> None:
    site = vhost("example.com", "www.example.com", "*.shop.example.com")
    assert site.match("WWW.Example.com") == "exact"
    assert site.match("example.com.") == "exact"
    assert site.match("cart.shop.example.com") == "wildcard"
    assert site.match("other.example.com") is None


def test_a_wildcard_identifier_matches_only_an_alias_covering_it() -> None:
    assert vhost("x.example", "*.example.com").match("*.example.com") == "exact"
    assert vhost("x.example", "*.com").match("*.example.com") == "wildcard"
    assert vhost("www.example.com").match("*.example.com") is None


def test_first_vhost_naming_the_host_wins_in_configuration_order() -> None:
    first = vhost("a.example", "shared.example")
    second = vhost("b.example", "*.example")
    assert choose("shared.example", 80, [first, second]) is first
    assert choose("b.example", 80, [first, second]) is second


def test_unnamed_host_on_a_port_with_several_vhosts_is_refused_naming_the_default() -> None:
    default = vhost(None, inherited="localhost", file="/etc/apache2/sites-available/000.conf")
    other = vhost("b.example")
    with pytest.raises(NoVhost) as info:
        choose("new.example", 80, [default, other])
    assert "000.conf" in info.value.message
    assert "ServerAlias new.example" in info.value.hint


def test_a_single_site_server_takes_any_name_unless_fallback_is_off() -> None:
    only = vhost(None, inherited="localhost")
    assert choose("example.com", 80, [only]) is only
    with pytest.raises(NoVhost):
        choose("example.com", 80, [only], fallback=False)


def test_no_vhost_on_the_port() -> None:
    with pytest.raises(NoVhost, match="No VirtualHost listens on port 443"):
        choose("example.com", 443, [vhost("example.com")])


def test_the_same_name_in_two_vhosts_of_one_address_is_ambiguous() -> None:
    first = vhost("example.com", file="/etc/apache2/sites-available/a.conf")
    second = vhost("www.example.com", "example.com", file="/etc/apache2/sites-available/b.conf")
    with pytest.raises(AmbiguousVhost) as info:
        choose("example.com", 80, [first, second])
    assert "a.conf" in info.value.message and "b.conf" in info.value.message
    assert "uses only the first" in info.value.message


def test_a_wildcard_listed_first_hiding_an_exact_name_is_ambiguous() -> None:
    catch_all = vhost("wild.example.com", "*.example.com", file="/srv/wild.conf")
    exact = vhost("shop.example.com", file="/srv/shop.conf")
    with pytest.raises(AmbiguousVhost, match="wildcard ServerAlias comes first") as info:
        choose("shop.example.com", 80, [catch_all, exact])
    assert "/srv/shop.conf" in info.value.message
    # the other way round Apache answers with the exact one: no question
    assert choose("shop.example.com", 80, [exact, catch_all]) is exact


def test_an_exact_name_before_a_wildcard_is_fine() -> None:
    exact = vhost("www.example.com")
    catch_all = vhost("example.com", "*.example.com")
    assert choose("www.example.com", 80, [exact, catch_all]) is exact
    assert choose("cdn.example.com", 80, [exact, catch_all]) is catch_all


def test_ip_based_vhosts_shadow_wildcard_ones_for_their_address() -> None:
    by_ip = vhost("example.com", addresses=("192.0.2.1:80",))
    star = vhost("example.com", addresses=("*:80",))
    groups = address_groups(80, [by_ip, star])
    assert groups == {"192.0.2.1": [by_ip], "*": [star]}
    with pytest.raises(AmbiguousVhost, match="depending on the address"):
        choose("example.com", 80, [by_ip, star])
    assert serving("example.com", 80, [by_ip, star]) == [by_ip, star]


def test_one_vhost_with_several_addresses_is_one_choice() -> None:
    dual = vhost("example.com", addresses=("192.0.2.1:80", "[2001:db8::1]:80"))
    assert choose("example.com", 80, [dual]) is dual


def test_serving_gives_the_default_when_nothing_names_the_host() -> None:
    default = vhost(None, inherited="localhost")
    named = vhost("b.example")
    assert serving("unknown.example", 80, [default, named]) == [default]
    assert serving("b.example", 80, [default, named]) == [named]
    assert serving("b.example", 8080, [default, named]) == []


def test_port_selection_ignores_vhosts_on_other_ports() -> None:
    http = vhost("example.com", addresses=("*:80",))
    https = vhost("example.com", addresses=("*:443",))
    assert choose("example.com", 443, [http, https], fallback=False) is https
    assert choose("example.com", 80, [http, https]) is http
