"""Renewal confs in certbot's format, and plugin options typed back out of them."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certbot_like.errors import CertbotLikeError, ConfigError, StorageError
from certbot_like.interfaces import option
from certbot_like.plugin_options import (
    build_options,
    field_kinds,
    options_from_conf,
    options_to_conf,
)
from certbot_like.storage.layout import Layout
from certbot_like.storage.renewal_conf import (
    RenewalConf,
    read_renewal_conf,
    render_renewal_conf,
    write_renewal_conf,
)

NAME = "example.com"

CERTBOT_CONF = """\
# renew_before_expiry = 30 days
renew_before_expiry = 20 days
version = 2.11.0
archive_dir = /etc/letsencrypt/archive/example.com
cert = /etc/letsencrypt/live/example.com/cert.pem
privkey = /etc/letsencrypt/live/example.com/privkey.pem
chain = /etc/letsencrypt/live/example.com/chain.pem
fullchain = /etc/letsencrypt/live/example.com/fullchain.pem
# Added by the administrator: who to call.
admin_contact = ops@example.com

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef0123456789abcdef
authenticator = webroot
webroot_path = /var/www/html,
server = https://acme-v02.api.letsencrypt.org/directory
key_type = ecdsa
reuse_key = False
rsa_key_size = 2048
renew_hook = systemctl reload nginx
[[webroot_map]]
example.com = /var/www/html
www.example.com = /var/www/html
"""


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout(
        config_dir=tmp_path / "etc", work_dir=tmp_path / "work", logs_dir=tmp_path / "logs"
    )
    layout.renewal_dir.mkdir(parents=True)
    return layout


def conf_with(params: str, path: Path = Path("/etc/letsencrypt/renewal/x.test.conf")) -> bytes:
    head = "".join(f"{k} = /etc/letsencrypt/live/x.test/{k}.pem\n" for k in ("cert", "privkey"))
    head += "chain = /c.pem\nfullchain = /f.pem\narchive_dir = /a\n"
    return (head + "[renewalparams]\n" + params).encode()


def read(data: bytes, path: Path = Path("/etc/letsencrypt/renewal/x.test.conf")) -> RenewalConf:
    return read_renewal_conf(path, data)


# --- write then read --------------------------------------------------------------------


def test_written_conf_reads_back_with_certbots_layout(layout: Layout) -> None:
    params = {
        "authenticator": "webroot",
        "server": "https://acme.test/dir",
        "rsa_key_size": 4096,
        "reuse_key": True,
        "must_staple": False,
        "webroot_path": ["/var/www/a", "/srv/b,c"],
        "single": ("only",),
        "webroot_map": {"a.test": "/var/www/a", "*.b.test": "/srv/b"},
        "deploy_hook": "systemctl reload nginx",
        "quoted": "sh -c 'echo \"done\" # really'",
        "skipped": None,
    }
    path = write_renewal_conf(layout, NAME, params, "0.1.0")
    assert path == layout.renewal_dir / "example.com.conf"
    assert oct(path.stat().st_mode & 0o777) == "0o644"

    conf = read_renewal_conf(path)
    assert conf.name == NAME
    assert conf.version == "0.1.0"
    assert conf.archive_dir == layout.archive_dir(NAME)
    assert conf.live == {k: layout.live_dir(NAME) / f"{k}.pem" for k in conf.live}
    assert set(conf.live) == {"cert", "privkey", "chain", "fullchain"}
    assert conf.params.authenticator == "webroot"
    assert conf.params.server == "https://acme.test/dir"
    assert conf.params.rsa_key_size == 4096
    assert conf.params.reuse_key is True
    assert conf.params.must_staple is False
    assert conf.params.get("webroot_path") == ["/var/www/a", "/srv/b,c"]
    assert conf.params.get("single") == ["only"]
    assert conf.params.get("webroot_map") == {"a.test": "/var/www/a", "*.b.test": "/srv/b"}
    assert conf.params.deploy_hook == "systemctl reload nginx"
    assert conf.params.get("quoted") == params["quoted"]
    assert not conf.params.has("skipped")
    assert "skipped" not in conf.params.to_conf()


def test_deploy_hook_is_stored_under_certbots_name_renew_hook(layout: Layout) -> None:
    path = write_renewal_conf(layout, NAME, {"deploy_hook": "echo hi"}, "0.1.0")
    text = path.read_text()
    assert "renew_hook = echo hi" in text
    assert "deploy_hook =" not in text


def test_webroot_map_is_a_subsection_as_certbot_writes_it(layout: Layout) -> None:
    path = write_renewal_conf(layout, NAME, {"webroot_map": {"a.test": "/w"}}, "0.1.0")
    assert "[[webroot_map]]\na.test = /w" in path.read_text()


def test_missing_keys_give_defaults(layout: Layout) -> None:
    conf = read_renewal_conf(write_renewal_conf(layout, NAME, {}, "0.1.0"))
    assert conf.params.to_conf() == {}
    assert conf.params.server is None
    assert conf.params.rsa_key_size is None
    assert conf.params.reuse_key is None
    assert conf.params.pref_challs == ()
    assert conf.params.get("webroot_path") is None
    assert conf.params.get("webroot_map") is None
    assert not conf.params.has("server")


def test_certbots_none_string_means_unset() -> None:
    conf = read(conf_with("pre_hook = None\nrsa_key_size = None\ndemo_hook = None\n"))
    assert conf.params.pre_hook is None
    assert conf.params.rsa_key_size is None
    assert not conf.params.has("pre_hook")
    assert not conf.params.has("rsa_key_size")
    assert options_from_conf(DemoOptions, conf).demo_hook is None


def test_a_list_value_that_cannot_be_quoted_is_a_config_error(layout: Layout) -> None:
    with pytest.raises(ConfigError) as info:
        write_renewal_conf(layout, NAME, {"webroot_path": ['/srv/it\'s "odd"']}, "0.1.0")
    assert "webroot_path" in info.value.message
    assert not layout.renewal_conf(NAME).exists()


# --- certbot-written confs --------------------------------------------------------------


def test_certbot_written_conf_is_read(layout: Layout) -> None:
    path = layout.renewal_conf(NAME)
    path.write_text(CERTBOT_CONF)
    conf = read_renewal_conf(path)
    assert conf.version == "2.11.0"
    assert conf.archive_dir == Path("/etc/letsencrypt/archive/example.com")
    assert conf.live["fullchain"] == Path("/etc/letsencrypt/live/example.com/fullchain.pem")
    assert conf.params.account == "0123456789abcdef0123456789abcdef"
    assert conf.params.server == "https://acme-v02.api.letsencrypt.org/directory"
    assert conf.params.key_type == "ecdsa"
    assert conf.params.rsa_key_size == 2048
    assert conf.params.get("webroot_path") == ["/var/www/html"]
    assert conf.params.reuse_key is False
    assert conf.params.get("webroot_map") == {
        "example.com": "/var/www/html",
        "www.example.com": "/var/www/html",
    }
    assert conf.params.deploy_hook == "systemctl reload nginx"  # certbot's renew_hook
    assert not conf.params.has("renew_hook")
    assert "renew_hook" not in conf.params.to_conf()


def test_rewriting_a_certbot_conf_keeps_comments_and_unknown_top_level_keys(
    layout: Layout,
) -> None:
    path = layout.renewal_conf(NAME)
    path.write_text(CERTBOT_CONF)
    write_renewal_conf(layout, NAME, {"authenticator": "standalone"}, "0.1.0")
    text = path.read_text()
    assert text.startswith("# renew_before_expiry = 30 days\n")
    assert "renew_before_expiry = 20 days" in text
    assert "# Added by the administrator: who to call.\nadmin_contact = ops@example.com" in text
    assert "# Options used in the renewal process" in text
    conf = read_renewal_conf(path)
    assert conf.version == "0.1.0"
    assert conf.params.to_conf() == {"authenticator": "standalone"}  # [renewalparams] replaced
    # the conf's own paths are kept (certbot honours them; the lineage lives there)
    assert conf.live["cert"] == Path(f"/etc/letsencrypt/live/{NAME}/cert.pem")


def test_a_new_conf_gets_the_layouts_paths(layout: Layout) -> None:
    write_renewal_conf(layout, NAME, {"authenticator": "standalone"}, "0.1.0")
    conf = read_renewal_conf(layout.renewal_conf(NAME))
    assert conf.live["cert"] == layout.live_dir(NAME) / "cert.pem"
    assert conf.archive_dir == layout.archive_dir(NAME)


def test_render_does_not_touch_the_disk(layout: Layout) -> None:
    data = render_renewal_conf(layout, NAME, {"a": "b"}, "0.1.0", existing=CERTBOT_CONF.encode())
    assert not layout.renewal_conf(NAME).exists()
    assert read(data).params.to_conf() == {"a": "b"}


def test_very_old_conf_without_archive_dir_derives_it() -> None:
    data = b"".join(
        f"{k} = /etc/letsencrypt/live/old.test/{k}.pem\n".encode()
        for k in ("cert", "privkey", "chain", "fullchain")
    )
    conf = read(data, Path("/etc/letsencrypt/renewal/old.test.conf"))
    assert conf.archive_dir == Path("/etc/letsencrypt/archive/old.test")
    assert conf.params.to_conf() == {}
    assert conf.version is None


# --- malformed confs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"cert = '''never closed\n", "not a valid renewal conf"),
        (b"[renewalparams\nx = 1\n", "not a valid renewal conf"),
        (b"cert = /a\ncert = /b\n", "not a valid renewal conf"),
        (b"[[deeper]]\nx = 1\n", "not a valid renewal conf"),
        (b"cert = \xff\xfe\n", "not a valid renewal conf"),
        (b"", "lacks cert, privkey, chain, fullchain"),
        (b"privkey = /p\nchain = /c\nfullchain = /f\narchive_dir = /a\n", "lacks cert"),
        (b"cert = /a, /b\nprivkey = /p\nchain = /c\nfullchain = /f\n", "lacks cert"),
        (b"[cert]\nx = 1\n[privkey]\n[chain]\n[fullchain]\n", "lacks cert"),
    ],
)
def test_malformed_conf_is_a_config_error_naming_the_file(data: bytes, words: str) -> None:
    path = Path("/etc/letsencrypt/renewal/broken.test.conf")
    with pytest.raises(ConfigError) as info:
        read_renewal_conf(path, data)
    assert info.value.exit_code == 3
    assert str(path) in info.value.message
    assert words in info.value.message
    assert "\n" not in info.value.one_line()


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "gone.test.conf"
    with pytest.raises(ConfigError, match=r"Cannot read .*gone\.test\.conf"):
        read_renewal_conf(path)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("reuse_key = maybe\n", "True or False"),
        ("reuse_key = a, b\n", "True or False"),
        ("must_staple = 2\n", "True or False"),
        ("rsa_key_size = big\n", "whole number"),
        ("rsa_key_size = 4096.0\n", "whole number"),
        ("rsa_key_size = \n", "whole number"),
        ("[[rsa_key_size]]\nx = 1\n", "single value"),
        ("[[server]]\nx = 1\n", "single value"),
    ],
)
def test_bad_values_are_config_errors_naming_file_and_key(params: str, expected: str) -> None:
    key = params.split(maxsplit=1)[0].strip("[]")
    path = Path("/etc/letsencrypt/renewal/x.test.conf")
    with pytest.raises(ConfigError) as info:
        read_renewal_conf(path, conf_with(params))
    assert str(path) in info.value.message
    assert key in info.value.message
    assert expected in info.value.message
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("params", "key", "expected"),
    [
        ("[[webroot_path]]\nx = 1\n", "webroot_path", "a list"),
        ("webroot_map = /var/www\n", "webroot_map", "[[section]]"),
        ("[[webroot_map]]\n[[[a.test]]]\n", "webroot_map", "[[section]]"),
    ],
)
def test_malformed_plugin_fields_are_config_errors_when_the_plugin_reads_them(
    params: str, key: str, expected: str
) -> None:
    conf = read(conf_with(params))  # not a typed key: kept raw until a plugin types it
    assert conf.params.has(key)
    with pytest.raises(ConfigError) as info:
        options_from_conf(DemoOptions, conf)
    assert str(conf.path) in info.value.message
    assert key in info.value.message
    assert expected in info.value.message


def test_unwritable_renewal_dir_is_a_storage_error(layout: Layout) -> None:
    layout.renewal_dir.rmdir()
    layout.renewal_dir.write_text("a file where a directory should be")
    with pytest.raises(StorageError):
        write_renewal_conf(layout, NAME, {}, "0.1.0")


_CONF_LINES = st.sampled_from(
    [
        "cert = /c",
        "privkey = /p",
        "chain = /ch",
        "fullchain = /f",
        "archive_dir = /a",
        "[renewalparams]",
        "[[webroot_map]]",
        "[[[deeper]]]",
        "a = b",
        "a = 1, 2,",
        "x = '''open",
        "'''",
        'q = "unclosed',
        "# comment",
        "=",
        "[",
        "[x",
        "bare",
        "\tindented = 1",
        "v = w  # c",
        "k = ,",
        "include = other.conf",
    ]
)
_CONF_TEXT = (
    st.text()
    | st.lists(_CONF_LINES | st.text(max_size=12), max_size=12).map("\n".join)
    | st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CONF_TEXT)
def test_any_text_as_a_conf_is_read_or_refused_with_a_config_error(text: str) -> None:
    path = Path("/etc/letsencrypt/renewal/fuzz.test.conf")
    try:
        conf = read_renewal_conf(path, text.encode("utf-8", "surrogatepass"))
    except ConfigError as exc:
        assert str(path) in exc.message
        return
    present = conf.params.to_conf()
    for key, value in present.items():
        assert conf.params.has(key)
        assert conf.params.get(key) == value
    assert conf.params.rsa_key_size is None or isinstance(conf.params.rsa_key_size, int)
    for name in ("reuse_key", "must_staple", "allow_subset_of_names", "autorenew"):
        assert getattr(conf.params, name) in (None, True, False)
    try:
        options_from_conf(DemoOptions, conf)
    except ConfigError as exc:
        assert str(path) in exc.message


# --- plugin options <-> conf ------------------------------------------------------------


@dataclass(frozen=True)
class DemoOptions:
    webroot_path: tuple[str, ...] = option(
        "-w", "--webroot-path", help="Document roots.", multiple=True, default=()
    )
    webroot_map: dict[str, str] = option("--webroot-map", help="JSON map.", default={})
    http01_port: int | None = option("--demo-port", help="Port.")
    demo_reuse: bool = option("--demo-reuse", help="A flag.", default=False)
    demo_name: str = option("--demo-name", help="A string.", default="standard")
    demo_ratio: float = option("--demo-ratio", help="A float.", default=0.5)
    demo_hook: str | None = option("--demo-hook", help="Optional string.")


def test_field_kinds_follow_the_annotations() -> None:
    kinds = {k.name: (k.base, k.optional) for k in field_kinds(DemoOptions)}
    assert kinds == {
        "webroot_path": ("tuple", False),
        "webroot_map": ("dict", False),
        "http01_port": ("int", True),
        "demo_reuse": ("bool", False),
        "demo_name": ("str", False),
        "demo_ratio": ("float", False),
        "demo_hook": ("str", True),
    }


def test_options_survive_a_trip_through_the_renewal_conf(layout: Layout) -> None:
    options = DemoOptions(
        webroot_path=("/var/www/a", "/srv/b"),
        webroot_map={"a.test": "/var/www/a", "b.test": "/srv/b"},
        http01_port=8080,
        demo_reuse=True,
        demo_name="x, y # z",
        demo_ratio=1.25,
        demo_hook="echo 'hi'",
    )
    path = write_renewal_conf(layout, NAME, options_to_conf(options), "0.1.0")
    assert options_from_conf(DemoOptions, read_renewal_conf(path)) == options


def test_defaults_are_kept_for_fields_the_conf_lacks(layout: Layout) -> None:
    path = write_renewal_conf(layout, NAME, {"http01_port": "None"}, "0.1.0")
    assert options_from_conf(DemoOptions, read_renewal_conf(path)) == DemoOptions()


def test_certbot_strings_are_typed_on_the_way_back() -> None:
    conf = read(
        conf_with(
            "webroot_path = /w,\nhttp01_port = 80\ndemo_reuse = true\ndemo_ratio = 2\n"
            "[[webroot_map]]\na.test = /w\n"
        )
    )
    options = options_from_conf(DemoOptions, conf)
    assert options.webroot_path == ("/w",)
    assert options.webroot_map == {"a.test": "/w"}
    assert options.http01_port == 80
    assert options.demo_reuse is True
    assert options.demo_ratio == 2.0


def test_overrides_from_the_command_line_win(layout: Layout) -> None:
    conf = read(conf_with("http01_port = 80\ndemo_name = stored\n"))
    options = options_from_conf(DemoOptions, conf, {"http01_port": 8081})
    assert options.http01_port == 8081
    assert options.demo_name == "stored"


def test_only_kept_and_non_empty_fields_go_to_the_conf() -> None:
    options = DemoOptions(http01_port=81, demo_name="n")
    assert options_to_conf(options) == {
        "demo_reuse": False,
        "demo_name": "n",
        "demo_ratio": 0.5,
        "http01_port": 81,
    }
    assert options_to_conf(options, keep={"http01_port", "webroot_path"}) == {"http01_port": 81}


def test_build_options_ignores_foreign_keys() -> None:
    options = build_options(DemoOptions, {"http01_port": 1, "domains": ("a.test",)})
    assert options == DemoOptions(http01_port=1)


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ("http01_port = eighty\n", "http01_port"),
        ("demo_reuse = sometimes\n", "demo_reuse"),
        ("demo_ratio = half\n", "demo_ratio"),
        ("webroot_map = /w\n", "webroot_map"),
        ("[[demo_name]]\nx = 1\n", "demo_name"),
    ],
)
def test_stored_value_of_the_wrong_type_is_a_config_error(params: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        options_from_conf(DemoOptions, read(conf_with(params)))
    assert key in info.value.message
    assert "x.test.conf" in info.value.message


_SAFE_TEXT = st.text(
    alphabet=string.ascii_letters + string.digits + " ,#'\"=/.-_$[]", min_size=1, max_size=20
).filter(lambda s: s.strip() == s and s != "None")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(_SAFE_TEXT, max_size=3).map(tuple),
    st.dictionaries(st.from_regex(r"[a-z]{1,8}\.test", fullmatch=True), _SAFE_TEXT, max_size=3),
    st.none() | st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
    _SAFE_TEXT,
    st.none() | _SAFE_TEXT,
)
def test_any_options_round_trip_or_fail_with_a_config_error(
    layout: Layout,
    paths: tuple[str, ...],
    mapping: dict[str, str],
    port: int | None,
    reuse: bool,
    name: str,
    hook: str | None,
) -> None:
    options = DemoOptions(
        webroot_path=paths,
        webroot_map=mapping,
        http01_port=port,
        demo_reuse=reuse,
        demo_name=name,
        demo_hook=hook,
    )
    try:
        path = write_renewal_conf(layout, NAME, options_to_conf(options), "0.1.0")
    except ConfigError:
        return  # configobj cannot quote this value; nothing was written
    except CertbotLikeError as exc:  # pragma: no cover - reported by the assertion
        raise AssertionError(f"unexpected {type(exc).__name__}") from exc
    assert options_from_conf(DemoOptions, read_renewal_conf(path)) == options
