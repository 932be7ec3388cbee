"""Credentials INI files: certbot's format, permission warnings, secrets kept out of sight."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from certbot_like_dns.credentials import read_credentials
from certbot_like_dns_rfc2136 import Rfc2136Options
from certbot_like_dns_rfc2136.authenticator import Rfc2136Authenticator, load_config

from certbot_like.errors import ConfigError, PluginError
from tests.unit.dns_support import make_context

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
CERTBOT_EXAMPLE = f"""\
# Target DNS server (IPv4 or IPv6 address, not a hostname)
dns_rfc2136_server = 192.0.2.1
# Target DNS port
dns_rfc2136_port = 53
# TSIG key name
dns_rfc2136_name = keyname.
# TSIG key secret
dns_rfc2136_secret = {SECRET}
# TSIG key algorithm
dns_rfc2136_algorithm = HMAC-SHA512
# TSIG sign SOA query (optional, default: false)
dns_rfc2136_sign_query = false
"""


def write(tmp_path: Path, text: str, mode: int = 0o600, name: str = "rfc2136.ini") -> Path:
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def config_from(path: Path) -> object:
    return load_config(read_credentials(path, flag="--dns-rfc2136-credentials"))


def test_certbots_documented_example_is_read_as_certbot_reads_it(tmp_path: Path) -> None:
    registered: list[str] = []
    warnings: list[str] = []
    creds = read_credentials(
        write(tmp_path, CERTBOT_EXAMPLE),
        flag="--dns-rfc2136-credentials",
        secret_keys=("dns_rfc2136_secret",),
        register_secret=registered.append,
        warn=warnings.append,
    )
    config = load_config(creds)
    assert (config.server, config.port, config.key_name) == ("192.0.2.1", 53, "keyname.")
    assert (config.algorithm, config.sign_query, config.secret) == ("HMAC-SHA512", False, SECRET)
    assert registered == [SECRET]
    assert warnings == []
    assert SECRET not in repr(config)


def test_defaults_and_spellings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dns_rfc2136_server = ::1\ndns_rfc2136_name = k\n"
        f'dns_rfc2136_secret = "{SECRET}"\ndns_rfc2136_algorithm = hmac-sha256.\n'
        "dns_rfc2136_sign_query = Yes\n",
    )
    config = load_config(read_credentials(path, flag="f"))
    assert (config.port, config.algorithm, config.sign_query, config.secret) == (
        53,
        "HMAC-SHA256",
        True,
        SECRET,
    )
    assert config.endpoint == "[::1]:53"
    no_algorithm = write(
        tmp_path,
        f"dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_name = k\ndns_rfc2136_secret = {SECRET}\n",
    )
    assert load_config(read_credentials(no_algorithm, flag="f")).algorithm == "HMAC-MD5"


def test_a_world_readable_file_is_used_with_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    path = write(tmp_path, CERTBOT_EXAMPLE, mode=0o644)
    read_credentials(path, flag="f", warn=warnings.append)
    assert warnings == [
        f"Warning: Unsafe permissions on credentials file {path}: mode 0644 lets group or "
        f"others read it; run `chmod 600 {path}`"
    ]
    os.chmod(path, 0o640)
    assert len(warnings) == 1
    read_credentials(path, flag="f", warn=warnings.append)
    assert "mode 0640" in warnings[-1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dns_rfc2136_name = k\n", "has no dns_rfc2136_server (the IP address"),
        ("dns_rfc2136_server = 192.0.2.1\n", "has no dns_rfc2136_name"),
        ("dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_name = k\n", "has no dns_rfc2136_secret"),
        (
            "dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_name = k\ndns_rfc2136_secret = !!notb64\n",
            "dns_rfc2136_secret is not valid base64",
        ),
        (
            f"dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_name = k\ndns_rfc2136_secret = {SECRET}"
            "\ndns_rfc2136_algorithm = HMAC-SHA3\n",
            "unknown dns_rfc2136_algorithm 'HMAC-SHA3'",
        ),
        (
            f"dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_port = 99999\ndns_rfc2136_name = k\n"
            f"dns_rfc2136_secret = {SECRET}\n",
            "dns_rfc2136_port '99999' is not a port number",
        ),
        (
            f"dns_rfc2136_server = 192.0.2.1\ndns_rfc2136_name = k\ndns_rfc2136_secret = {SECRET}"
            "\ndns_rfc2136_sign_query = maybe\n",
            "dns_rfc2136_sign_query must be true or false",
        ),
        (
            "dns_rfc2136_server = no-such-host.invalid\n",
            "is neither an IP address nor a name that resolves",
        ),
        ("dns_rfc2136_name = a, b\n", "contains a comma"),
        ("[unclosed\n", "Cannot parse the credentials file"),
    ],
)
def test_mistakes_are_one_clear_line_without_the_secret(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        config_from(write(tmp_path, text))
    line = err.value.one_line()
    assert message in line
    assert "\n" not in line and SECRET not in line
    assert err.value.exit_code == 3


def test_a_missing_file_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the credentials file") as err:
        read_credentials(tmp_path / "nope.ini", flag="--dns-rfc2136-credentials")
    assert "--dns-rfc2136-credentials" in err.value.one_line()


def test_the_plugin_needs_a_credentials_file_and_reports_unsafe_modes(tmp_path: Path) -> None:
    context, registered, display = make_context(tmp_path)
    with pytest.raises(PluginError, match="needs --dns-rfc2136-credentials FILE"):
        Rfc2136Authenticator(Rfc2136Options(), context).prepare(["dns-01"])
    path = write(tmp_path, CERTBOT_EXAMPLE, mode=0o604)
    options = Rfc2136Options(dns_rfc2136_credentials=str(path), dns_resolver="127.0.0.1")
    plugin = Rfc2136Authenticator(options, context)
    plugin.prepare(["dns-01"])
    assert registered == [SECRET]
    assert any("Unsafe permissions" in m and "chmod 600" in m for m in display.messages)
