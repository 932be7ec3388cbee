"""The fast renewal-conf reader against configobj: the same answer, or no answer.

:func:`parse_plain` may refuse any conf (configobj then reads it), but whenever it answers,
the answer must equal configobj's, key order included. Confs come from configobj's own
writer (as certbot's ``make_renewal_configobj`` and our ``render_renewal_conf`` write them,
values drawn by hypothesis), from certbot-written samples, and from random lines built of
the characters configobj treats specially.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import configobj
import pytest
from hypothesis import given
from hypothesis import strategies as st

from certbot_like.errors import ConfigError
from certbot_like.storage.conf_syntax import parse_plain
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_conf import read_renewal_conf, render_renewal_conf
from certbot_like.storage.renewal_params import RenewalParams
from tests.unit.fuzzing import FUZZ
from tests.unit.test_renewal_conf import CERTBOT_CONF


def configobj_tree(data: bytes) -> Any:
    """What read_renewal_conf's configobj fallback returns, as plain nested dicts."""
    obj = configobj.ConfigObj(
        io.BytesIO(data),
        encoding="utf-8",
        default_encoding="utf-8",
        file_error=True,
        interpolation=False,
        list_values=True,
    )
    return _plain(obj)


def _plain(section: Any) -> Any:
    return {k: _plain(v) if isinstance(v, dict) else v for k, v in section.items()}


def _ordered(tree: Any) -> Any:
    if isinstance(tree, dict):
        return [(k, _ordered(v)) for k, v in tree.items()]
    return tree


def assert_same_or_refused(data: bytes) -> bool:
    """True when parse_plain answered (and the answer equals configobj's)."""
    fast = parse_plain(data)
    try:
        slow = configobj_tree(data)
    except (configobj.ConfigObjError, UnicodeDecodeError):
        assert fast is None, data
        return False
    if fast is None:
        return False
    assert _ordered(fast) == _ordered(slow), data
    return True


# -- certbot-written and our own confs -------------------------------------------------------

CERTBOT_58_CONF = b"""\
# renew_before_expiry = 30 days
version = 5.8.0
archive_dir = /etc/letsencrypt/archive/shop.example
cert = /etc/letsencrypt/live/shop.example/cert.pem
privkey = /etc/letsencrypt/live/shop.example/privkey.pem
chain = /etc/letsencrypt/live/shop.example/chain.pem
fullchain = /etc/letsencrypt/live/shop.example/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 1c9ba2e4a5b4f9c4b6c0d3b1c8e2f7a9
pref_challs = dns-01,
authenticator = dns-cloudflare
dns_cloudflare_credentials = /root/.secrets/cloudflare.ini
server = https://acme-v02.api.letsencrypt.org/directory
key_type = rsa
rsa_key_size = 4096
installer = nginx
"""


@pytest.mark.parametrize("data", [CERTBOT_CONF.encode(), CERTBOT_58_CONF])
def test_certbot_written_confs_are_read_fast_and_identically(data: bytes) -> None:
    assert assert_same_or_refused(data)


def test_conf_we_write_is_read_fast_and_identically(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "etc", tmp_path / "work", tmp_path / "logs")
    params = {
        "authenticator": "webroot",
        "webroot_path": ["/var/www/a", "/var/www/b"],
        "webroot_map": {"a.test": "/var/www/a", "*.b.test": "/var/www/b"},
        "server": "https://acme.test/dir",
        "pref_challs": ["http-01"],
        "deploy_to": ["pem:/etc/haproxy/x.pem"],
        "pre_hook": "systemctl stop nginx",
    }
    data = render_renewal_conf(layout, "a.test", params, "0.1.0")
    assert assert_same_or_refused(data)


def test_unusual_confs_fall_back_to_configobj_with_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    base = CERTBOT_58_CONF.decode()
    for line in (
        'pre_hook = "echo a, b"',
        "post_hook = echo done # with a comment",
        "deploy_hook = 'quoted'",
        "webroot_path = ,",
    ):
        data = (base + line + "\n").encode()
        assert parse_plain(data) is None
        path.write_bytes(data)
        slow = RenewalParams.from_conf(configobj_tree(data)["renewalparams"], str(path))
        assert read_renewal_conf(path).params == slow


def test_broken_conf_still_names_configobjs_error(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    path.write_bytes(CERTBOT_58_CONF + b"[renewalparams]\n")  # a duplicate section
    with pytest.raises(ConfigError, match="is not a valid renewal conf"):
        read_renewal_conf(path)


# -- generated ---------------------------------------------------------------------------------

_SPECIAL = "abc ,=#'\"[]\\\t-_./:*é"
_WORD = st.text(alphabet="abcxyz0123._-/:*", min_size=1, max_size=12)
_VALUE = st.one_of(
    st.text(alphabet=_SPECIAL, max_size=16),
    st.lists(st.text(alphabet=_SPECIAL, max_size=8), max_size=3),
    _WORD,
    st.lists(_WORD, min_size=1, max_size=3),
)


@FUZZ
@given(
    top=st.dictionaries(_WORD, _VALUE, max_size=6),
    params=st.dictionaries(_WORD, _VALUE, max_size=8),
    sub=st.dictionaries(_WORD, _WORD, max_size=3),
)
def test_confs_written_by_configobj_read_identically(
    top: dict[str, Any], params: dict[str, Any], sub: dict[str, str]
) -> None:
    conf = configobj.ConfigObj(encoding="utf-8", default_encoding="utf-8")
    for key, value in top.items():
        conf[key] = value
    section = dict(params)
    if sub:
        section["webroot_map"] = sub
    conf["renewalparams"] = section
    buffer = io.BytesIO()
    try:
        conf.write(outfile=buffer)
    except configobj.ConfigObjError:
        return  # configobj cannot write it: neither client stores such a value
    assert_same_or_refused(buffer.getvalue())


_LINE = st.one_of(
    st.text(alphabet=_SPECIAL, max_size=20),
    st.builds(lambda k, v: f"{k} = {v}", _WORD, st.text(alphabet=_SPECIAL, max_size=16)),
    st.builds(lambda k, v: f"{k}={v}", _WORD, st.text(alphabet="ab ,", max_size=8)),
    st.builds(lambda d, n: "[" * d + n + "]" * d, st.integers(1, 3), _WORD),
    st.sampled_from(["", "# comment", "  # indented", "[renewalparams]", "[[webroot_map]]"]),
)


@FUZZ
@given(st.lists(_LINE, max_size=12))
def test_random_lines_read_identically_or_are_refused(lines: list[str]) -> None:
    assert_same_or_refused("\n".join(lines).encode())


def test_generated_confs_mostly_take_the_fast_path() -> None:
    """The plain form is the common one: every conf of this suite's kind is answered."""
    answered = 0
    for index in range(50):
        data = CERTBOT_58_CONF + f"extra_{index} = value {index}, other,\n".encode()
        answered += assert_same_or_refused(data)
    assert answered == 50
