"""The apache plugin's configuration handling without a running Apache: layouts, Apache's
dump format, the Augeas tree on the realistic trees of ``tests/data/apache``, checkpoints,
the TLS options file, and the installer's edits undone byte for byte."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from certbot_like_apache import ApacheOptions
from certbot_like_apache.augeas_tree import ConfigTree, aug_path, quote, unquote
from certbot_like_apache.backup import Backups
from certbot_like_apache.control import parse_dump
from certbot_like_apache.layout import DEBIAN, RHEL, detect
from certbot_like_apache.options_ssl import CONTENT, DIGEST_NAME, OPTIONS_NAME, ensure_options_file
from certbot_like_apache.plugin import ApachePlugin
from certbot_like_apache.vhost import _comment_out, ssl_file_for

from certbot_like.errors import InstallerError, PluginError
from certbot_like.interfaces import DeployTarget, HookResult, Identifier, PluginContext
from tests.harness.apache import link_debian_sites, render_tree

NAMES = {"A": "a.test", "B": "b.test", "C": "c.test", "OLD": "old.test"}
NAMES |= {"D": "d.test", "E": "e.test"}
HTTP, HTTPS = 8080, 8443


def tree_values(root: Path) -> dict[str, str]:
    values = {"ROOT": str(root), "HTTP_PORT": str(HTTP), "HTTPS_PORT": str(HTTPS)}
    return {**values, "USER": "www-data", "GROUP": "www-data", **NAMES}


@pytest.fixture
def debian(tmp_path: Path) -> Path:
    root = tmp_path / "apache2"
    render_tree("debian", root, tree_values(root))
    link_debian_sites(root)
    available, enabled = root / "mods-available", root / "mods-enabled"
    available.mkdir()
    enabled.mkdir()
    (available / "ssl.load").write_text(
        "# Depends: setenvif mime socache_shmcb\nLoadModule ssl_module /m/mod_ssl.so\n"
    )
    (available / "ssl.conf").write_text("SSLRandomSeed startup builtin\n")
    for module in ("setenvif", "mime", "socache_shmcb", "headers", "rewrite"):
        (available / f"{module}.load").write_text(f"LoadModule {module}_module /m/x.so\n")
    return root


@pytest.fixture
def rhel(tmp_path: Path) -> Path:
    root = tmp_path / "httpd"
    render_tree("rhel", root, tree_values(root))
    (root / "modules").mkdir()
    for module in ("ssl", "socache_shmcb", "headers", "rewrite"):
        (root / "modules" / f"mod_{module}.so").write_bytes(b"")
    return root


def snapshot(root: Path) -> dict[str, bytes | str]:
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes() + f" mode={path.stat().st_mode:o}".encode()
    return found


class Quiet:
    interactive = False

    def __init__(self) -> None:
        self.messages: list[str] = []

    def notify(self, message: str) -> None:
        self.messages.append(message)

    def pause(self, message: str) -> None:
        raise AssertionError(message)


class NoHooks:
    def run(self, command: str, env: object, *, what: str) -> HookResult:
        raise AssertionError(command)


def plugin(
    root: Path, tmp_path: Path, display: Quiet | None = None, vhost_root: str | None = None
) -> ApachePlugin:
    """The plugin on *root* with a control command that refuses everything (/bin/false):
    Apache's dump is missing, so only Augeas's view counts."""
    options = ApacheOptions(
        apache_server_root=str(root),
        apache_ctl="/bin/false",
        apache_vhost_root=vhost_root,
        http01_port=HTTP,
        https_port=HTTPS,
    )
    for folder in ("config", "work", "logs"):
        (tmp_path / folder).mkdir(exist_ok=True)
    context = PluginContext(
        config_dir=tmp_path / "config",
        work_dir=tmp_path / "work",
        logs_dir=tmp_path / "logs",
        display=display or Quiet(),
        hooks=NoHooks(),
    )
    made = ApachePlugin(options, context)
    made.prepare()
    return made


def target(tmp_path: Path, *names: str) -> DeployTarget:
    live = tmp_path / "config" / "live" / names[0]
    return DeployTarget(
        lineage=names[0],
        names=tuple(Identifier("dns", n) for n in names),
        cert_path=live / "cert.pem",
        key_path=live / "privkey.pem",
        chain_path=live / "chain.pem",
        fullchain_path=live / "fullchain.pem",
    )


# -- layouts and Apache's dump -------------------------------------------------------------


def test_layouts_are_detected_from_the_server_root(
    debian: Path, rhel: Path, tmp_path: Path
) -> None:
    assert detect(debian) is DEBIAN
    assert detect(rhel) is RHEL
    with pytest.raises(PluginError, match="does not exist"):
        detect(tmp_path / "missing")
    with pytest.raises(PluginError, match=r"apache2\.conf"):
        detect(tmp_path)


def test_apache_dump_is_parsed_with_real_paths(tmp_path: Path) -> None:
    (tmp_path / "available").mkdir()
    (tmp_path / "available" / "a.conf").write_text("")
    (tmp_path / "enabled").mkdir()
    (tmp_path / "enabled" / "a.conf").symlink_to("../available/a.conf")
    text = f"""Included configuration files:
  (*) {tmp_path}/apache2.conf
    (225) {tmp_path}/enabled/a.conf
VirtualHost configuration:
192.0.2.1:443          secure.example ({tmp_path}/secure.conf:2)
*:80                   is a NameVirtualHost
         default server localhost ({tmp_path}/000.conf:1)
         port 80 namevhost localhost ({tmp_path}/000.conf:1)
         port 80 namevhost A.test ({tmp_path}/enabled/a.conf:4)
                 alias www.a.test
                 wild alias *.a.test
ServerRoot: "{tmp_path}"
Main DocumentRoot: "/var/www/html"
PidFile: "/run/apache2/apache2.pid"
Define: DUMP_RUN_CFG
Loaded Modules:
 core_module (static)
 ssl_module (shared)
"""
    dump = parse_dump(text)
    assert dump.includes == (f"{tmp_path}/apache2.conf", f"{tmp_path}/available/a.conf")
    assert dump.server_root == str(tmp_path)
    assert dump.pid_file == "/run/apache2/apache2.pid"
    assert dump.modules == {"core_module", "ssl_module"}
    site = dump.vhost_at(f"{tmp_path}/available/a.conf", 4)
    assert site is not None and site.names == ["a.test", "www.a.test", "*.a.test"]
    secure = dump.vhost_at(f"{tmp_path}/secure.conf", 2)
    assert secure is not None and secure.names == ["secure.example"]
    assert len(dump.vhosts) == 3


# -- the Augeas tree -----------------------------------------------------------------------


def test_only_included_files_are_loaded_and_parse_errors_named(debian: Path) -> None:
    tree = ConfigTree(debian, debian / "apache2.conf")
    tree.load()
    loaded = {os.path.relpath(f, debian) for f in tree.files}
    assert loaded == {
        "apache2.conf",
        "ports.conf",
        "conf-available/security.conf",
        "sites-available/000-default.conf",
        "sites-available/shop.conf",
        "sites-available/blog.conf",
        "sites-available/legacy.conf",
    }  # parked.conf is not enabled: never read
    (problem,) = tree.problems.values()
    assert problem.file == str(debian / "sites-available/legacy.conf")
    assert problem.line == 6
    assert "legacy.conf (line 6" in str(problem)
    assert tree.includes_path(str(debian / "sites-enabled/new.conf"))
    assert not tree.includes_path(str(debian / "sites-available/new.conf"))


def test_defined_variables_expand_in_includes(tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "one.conf").write_text("ServerAdmin one@example.com\n")
    (tmp_path / "main.conf").write_text(
        "Define EXTRA extra\nIncludeOptional ${EXTRA}/*.conf\nInclude ${UNKNOWN_VAR}/x.conf\n"
    )
    tree = ConfigTree(tmp_path, tmp_path / "main.conf")
    tree.load()
    assert str(tmp_path / "extra" / "one.conf") in tree.files


def test_saving_writes_only_changed_files_and_keeps_untouched_lines(debian: Path) -> None:
    tree = ConfigTree(debian, debian / "apache2.conf")
    tree.load()
    shop = debian / "sites-available/shop.conf"
    before = shop.read_bytes()
    (_first, second) = tree.sections(aug_path(str(shop)), "VirtualHost")
    tree.add_directive(second, "Header", ["always", "set", "X-Test", "a value"])
    saved: list[str] = []

    written = tree.save(saved.extend)

    assert written == saved == [str(shop)]
    after = shop.read_bytes()
    lines_before, lines_after = before.splitlines(), after.splitlines()
    assert lines_after == [
        *lines_before[:-1],
        b'\tHeader always set X-Test "a value"',
        b"</VirtualHost>",
    ]
    assert tree.location(second) == (str(shop), 19)
    assert tree.args(tree.directives(second, "Header")[0])[-1] == "a value"


def test_section_arguments_stay_before_the_children(debian: Path) -> None:
    tree = ConfigTree(debian, debian / "apache2.conf")
    tree.load()
    blog = debian / "sites-available/blog.conf"
    (vhost,) = tree.sections(aug_path(str(blog)), "VirtualHost")
    tree.set_args(vhost, ["*:443", "[::1]:443"])
    tree.save(lambda files: None)
    assert blog.read_text().startswith("<VirtualHost *:443 [::1]:443>\n\tServerName c.test\n")


def test_quoting_round_trips() -> None:
    assert quote("plain") == "plain"
    assert quote('say "hi" now') == '"say \\"hi\\" now"'
    assert unquote(quote('say "hi" now')) == 'say "hi" now'
    assert unquote("'single'") == "single"


# -- checkpoints ---------------------------------------------------------------------------


def test_checkpoint_restores_bytes_mode_and_removes_what_it_created(tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_bytes(b"# keep\r\nListen 80\n")
    conf.chmod(0o640)
    backups = Backups(tmp_path / "backups")
    checkpoint = backups.begin("change", "test")
    checkpoint.write_file(str(conf), b"changed\n")
    checkpoint.write_file(str(tmp_path / "new.conf"), b"new\n")
    checkpoint.symlink(str(tmp_path / "link.conf"), "new.conf")
    assert conf.read_bytes() == b"changed\n" and conf.stat().st_mode & 0o777 == 0o640

    checkpoint.restore()

    assert conf.read_bytes() == b"# keep\r\nListen 80\n"
    assert conf.stat().st_mode & 0o777 == 0o640
    assert not (tmp_path / "new.conf").exists() and not (tmp_path / "link.conf").is_symlink()
    assert backups.all() == []


def test_an_interrupted_change_is_undone_by_the_next_run(tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_bytes(b"original\n")
    backups = Backups(tmp_path / "backups")
    checkpoint = backups.begin("temporary", "challenges")
    checkpoint.write_file(str(conf), b"half-done\n")
    manifest = json.loads((checkpoint.path / "manifest.json").read_text())
    manifest["process"] = "4194303:1"  # no such process
    (checkpoint.path / "manifest.json").write_text(json.dumps(manifest))

    assert backups.recover_interrupted() == ["challenges"]
    assert conf.read_bytes() == b"original\n"
    # a checkpoint of a live process (this one) is left alone
    live = backups.begin("change", "ours")
    live.write_file(str(conf), b"ours\n")
    assert backups.recover_interrupted() == []


def test_rollback_target_refuses_files_edited_since(tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_bytes(b"original\n")
    backups = Backups(tmp_path / "backups")
    checkpoint = backups.begin("change", "install")
    checkpoint.write_file(str(conf), b"installed\n")
    checkpoint.commit("installed x (changed site.conf)")
    assert backups.latest_committed() is not None
    assert checkpoint.changed_since_commit() == []
    conf.write_bytes(b"edited by hand\n")
    assert checkpoint.changed_since_commit() == [str(conf)]


# -- the TLS options file ------------------------------------------------------------------


def test_options_file_is_created_updated_when_ours_and_kept_when_edited(tmp_path: Path) -> None:
    backups = Backups(tmp_path / "backups")
    path, warning = ensure_options_file(tmp_path, backups.begin("change", "1"))
    assert path.read_bytes() == CONTENT and warning is None
    assert "SSLProtocol             -all +TLSv1.2 +TLSv1.3" in CONTENT.decode()
    # an older version we wrote (its digest is recorded) is replaced
    import hashlib

    path.write_bytes(b"SSLProtocol all\n")
    (tmp_path / DIGEST_NAME).write_text(hashlib.sha256(b"SSLProtocol all\n").hexdigest())
    _, warning = ensure_options_file(tmp_path, backups.begin("change", "2"))
    assert path.read_bytes() == CONTENT and warning is None
    # the administrator's edit is kept
    path.write_bytes(CONTENT + b"SSLCompression off\n")
    _, warning = ensure_options_file(tmp_path, backups.begin("change", "3"))
    assert path.read_bytes().endswith(b"SSLCompression off\n")
    assert warning is not None and OPTIONS_NAME in warning and "edited by hand" in warning


# -- SSL copies ----------------------------------------------------------------------------


def test_ssl_file_names() -> None:
    assert ssl_file_for("/e/sites-available/shop.conf", "-le-ssl.conf", None) == (
        "/e/sites-available/shop-le-ssl.conf"
    )
    assert ssl_file_for("/e/apache2.conf", "-le-ssl.conf", "/e/sites-available") == (
        "/e/sites-available/apache2-le-ssl.conf"
    )
    assert ssl_file_for("/e/vhosts", "-ssl.conf", None) == "/e/vhosts-ssl.conf"


def test_loop_making_lines_are_commented_out_in_the_copy() -> None:
    data = b"<VirtualHost *:80>\n    RewriteRule ^ https://x/ \\\n      [R]\n</VirtualHost>\n"
    start = data.index(b"    RewriteRule")
    end = data.index(b"</VirtualHost>")
    out = _comment_out(data, [(start, end)])
    assert out == (
        b"<VirtualHost *:80>\n"
        b"# certbot-like disabled this line in the HTTPS copy: "
        b"RewriteRule ^ https://x/        [R]\n"
        b"</VirtualHost>\n"
    )


# -- the installer, offline ----------------------------------------------------------------


def test_deploy_redirect_hsts_on_debian_then_restore_byte_for_byte(
    debian: Path, tmp_path: Path
) -> None:
    before = snapshot(debian)
    display = Quiet()
    apache = plugin(debian, tmp_path, display)
    site = target(tmp_path, "a.test", "www.a.test")

    apache.deploy(site)
    apache.enable_redirect(site)
    apache.enable_hsts(site)

    copy = (debian / "sites-available/shop-le-ssl.conf").read_text()
    assert copy.startswith("<IfModule mod_ssl.c>\n<VirtualHost *:8443>\n    ServerName a.test\n")
    assert f"    SSLCertificateFile {site.fullchain_path}\n" in copy
    assert f"    SSLCertificateKeyFile {site.key_path}\n" in copy
    assert '    Header always set Strict-Transport-Security "max-age=31536000"\n' in copy
    assert os.readlink(debian / "sites-enabled/shop-le-ssl.conf") == (
        "../sites-available/shop-le-ssl.conf"
    )
    enabled = {p.name: os.readlink(p) for p in (debian / "mods-enabled").iterdir()}
    assert enabled == {
        name: f"../mods-available/{name}"
        for name in (
            *("ssl.load", "ssl.conf", "setenvif.load", "mime.load"),
            *("socache_shmcb.load", "headers.load", "rewrite.load"),
        )
    }
    shop = (debian / "sites-available/shop.conf").read_text()
    assert "    RewriteCond %{SERVER_NAME} =a.test [NC,OR]\n" in shop
    assert (
        "    RewriteRule ^ https://%{SERVER_NAME}:8443%{REQUEST_URI} [END,NE,R=permanent]\n" in shop
    )
    assert (debian / "ports.conf").read_bytes() == before["ports.conf"][: -len(" mode=100644")]
    assert any("legacy.conf" in m for m in display.messages)

    apache.restore()

    assert snapshot(debian) == before


def test_rhel_gets_load_module_lines_and_a_listen(rhel: Path, tmp_path: Path) -> None:
    before = snapshot(rhel)
    apache = plugin(rhel, tmp_path)

    apache.deploy(target(tmp_path, "d.test"))

    assert (rhel / "conf.modules.d/00-certbot-like.conf").read_text().splitlines()[1:] == [
        "LoadModule socache_shmcb_module modules/mod_socache_shmcb.so",
        "LoadModule ssl_module modules/mod_ssl.so",
    ]
    httpd = (rhel / "conf/httpd.conf").read_text()
    assert httpd.endswith(
        "IncludeOptional conf.d/*.conf\n<IfModule mod_ssl.c>\n    Listen 8443 https\n</IfModule>\n"
    )
    assert "<VirtualHost *:8443>" in (rhel / "conf.d/sites-le-ssl.conf").read_text()

    apache.restore()

    assert snapshot(rhel) == before


def test_a_name_in_two_vhosts_stops_with_both_places(debian: Path, tmp_path: Path) -> None:
    (debian / "sites-available/clone.conf").write_text(
        f"<VirtualHost *:{HTTP}>\n    ServerName clone.invalid\n    ServerAlias a.test\n"
        "</VirtualHost>\n"
    )
    (debian / "sites-enabled/clone.conf").symlink_to("../sites-available/clone.conf")
    before = snapshot(debian)
    apache = plugin(debian, tmp_path)

    with pytest.raises(InstallerError) as info:
        apache.deploy(target(tmp_path, "a.test"))

    assert "shop.conf:4" in info.value.message and "clone.conf:1" in info.value.message
    apache.restore()
    assert snapshot(debian) == before


def test_wildcard_alias_and_unknown_and_unparseable_names(debian: Path, tmp_path: Path) -> None:
    apache = plugin(debian, tmp_path)
    apache.deploy(target(tmp_path, "cdn.b.test"))
    assert "ServerAlias  *.b.test" in (debian / "sites-available/shop-le-ssl.conf").read_text()
    with pytest.raises(InstallerError, match="No VirtualHost on port 8080 has ServerName"):
        apache.deploy(target(tmp_path, "unknown.test"))
    with pytest.raises(InstallerError, match=r"legacy\.conf .*Augeas cannot parse"):
        apache.deploy(target(tmp_path, "old.test"))
    apache.restore()


def test_vhosts_come_in_apache_order_whatever_the_file_names(debian: Path, tmp_path: Path) -> None:
    # sites-enabled/000-default.conf -> a file that sorts last in sites-available
    (debian / "sites-available/000-default.conf").rename(debian / "sites-available/zz.conf")
    (debian / "sites-enabled/000-default.conf").unlink()
    (debian / "sites-enabled/000-default.conf").symlink_to("../sites-available/zz.conf")
    apache = plugin(debian, tmp_path)
    names = [v.server_name for v in apache.config.vhosts()]
    assert names == [None, "c.test", "a.test", "b.test"]  # legacy.conf is skipped


def test_the_only_site_of_a_server_takes_the_name(debian: Path, tmp_path: Path) -> None:
    for site in ("shop.conf", "blog.conf", "legacy.conf"):
        (debian / "sites-enabled" / site).unlink()
    apache = plugin(debian, tmp_path)

    apache.deploy(target(tmp_path, "fresh.test", "www.fresh.test"))

    copy = (debian / "sites-available/000-default-le-ssl.conf").read_text()
    assert "\tServerName fresh.test\n\tServerAlias www.fresh.test\n" in copy
    assert copy.count("<VirtualHost *:8443>") == 1


def test_a_vhost_root_nothing_includes_gets_an_include_line(rhel: Path, tmp_path: Path) -> None:
    (rhel / "vhosts").mkdir()
    before = (rhel / "conf.d/sites.conf").read_bytes()
    apache = plugin(rhel, tmp_path, vhost_root=str(rhel / "vhosts"))

    apache.deploy(target(tmp_path, "e.test"))

    assert "ServerAlias *.e.test" in (rhel / "vhosts/sites-le-ssl.conf").read_text()
    after = (rhel / "conf.d/sites.conf").read_bytes()
    assert after == before + f"Include {rhel}/vhosts/sites-le-ssl.conf\n".encode()


def test_a_refused_challenge_configuration_is_undone(debian: Path, tmp_path: Path) -> None:
    from certbot_like.interfaces import ChallengeTask

    before = snapshot(debian)
    apache = plugin(debian, tmp_path)  # its control command fails every configuration test
    task = ChallengeTask(Identifier("dns", "c.test"), "http-01", "tok_en-1", "tok_en-1.thumb")

    with pytest.raises(PluginError, match="rejects the temporary challenge configuration"):
        apache.perform([task])
    blog = (debian / "sites-available/blog.conf").read_text()
    assert blog.startswith(f"<VirtualHost *:{HTTP}>\n\tInclude {tmp_path}/work/apache-challenge/")
    apache.cleanup([task])

    assert snapshot(debian) == before
    assert not (tmp_path / "work" / "apache-challenge").exists()
