"""Realistic nginx configurations: each installs correctly and passes `nginx -t`.

Every case under ``tests/data/nginx/`` is copied into a temporary tree (``@ROOT@`` and
``@CONFIG@`` filled in; ``_debian`` or ``_minimal`` laid under it first), checked to be
valid for the real nginx as it is, then a certificate is installed with the plugin itself.
Afterwards ``nginx -t`` must pass, the files that were not to change are byte-identical,
the ones that changed kept every original line (only lines were added, apart from the
arguments of certificate directives), the expected lines are there, and ``restore`` puts
every byte back. Error cases must name the competing blocks and change nothing.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from certbot_like_nginx import NginxOptions
from certbot_like_nginx.plugin import NginxPlugin

from certbot_like.errors import PluginError
from certbot_like.interfaces import DeployTarget, HookResult, Identifier, PluginContext
from tests.harness.nginx import self_signed, write_ctl

DATA = Path(__file__).resolve().parents[1] / "data" / "nginx"
MARK = "# managed by certbot-like"


@dataclass(frozen=True)
class Case:
    """One installation into one tree, and what must come out of it."""

    tree: str
    names: tuple[str, ...]
    base: str | None = None
    redirect: bool = False
    hsts: bool = False
    changed: tuple[str, ...] = ()
    expect: dict[str, tuple[str, ...]] = field(default_factory=dict)
    absent: dict[str, tuple[str, ...]] = field(default_factory=dict)
    error: str | None = None
    crlf: tuple[str, ...] = ()
    split: tuple[str, ...] = ()  # one-line blocks that get lines inserted (so are split)


CASES = {
    "debian-site": Case(
        "debian-site",
        ("example.com", "www.example.com"),
        base="_debian",
        redirect=True,
        hsts=True,
        changed=("sites-available/example.com",),
        expect={
            "sites-available/example.com": (
                "# HTTPS copy of the server block at sites-enabled/example.com:2, made by "
                "certbot-like",
                f"listen 443 ssl; {MARK}",
                f"listen [::]:443 ssl; {MARK}",
                f"ssl_certificate @CONFIG@/live/example.com/fullchain.pem; {MARK}",
                f"ssl_certificate_key @CONFIG@/live/example.com/privkey.pem; {MARK}",
                f"include @CONFIG@/options-ssl-nginx.conf; {MARK}",
                f'set $certbot_like_redirect "$scheme://$host"; {MARK}',
                'if ($certbot_like_redirect = "http://www.example.com") { return 301 '
                f"https://$host$request_uri; }} {MARK}",
                f'add_header Strict-Transport-Security "max-age=31536000" always; {MARK}',
            )
        },
    ),
    "debian-default-only": Case(
        "debian-default-only",
        ("fresh.example",),
        base="_debian",
        redirect=True,
        changed=("sites-available/default",),
        expect={
            "sites-available/default": (
                "# HTTPS copy of the server block at sites-enabled/default:21, made by "
                "certbot-like",
                "server_name fresh.example;",
                f"listen 443 ssl; {MARK}",
                f"listen [::]:443 ssl; {MARK}",
                'if ($certbot_like_redirect = "http://fresh.example") { return 301 '
                f"https://$host$request_uri; }} {MARK}",
            )
        },
    ),
    "existing-https-block": Case(
        "several-blocks",
        ("api.example.org",),
        changed=("conf.d/sites.conf",),
        expect={
            "conf.d/sites.conf": (
                "ssl_certificate     @CONFIG@/live/api.example.org/fullchain.pem;    "
                "# replaced on renewal {see the runbook}",
                "ssl_certificate_key @CONFIG@/live/api.example.org/privkey.pem;",
            )
        },
        absent={"conf.d/sites.conf": ("options-ssl-nginx.conf", "HTTPS copy")},
    ),
    "several-blocks-per-file": Case(
        "several-blocks",
        ("example.org", "www.example.org"),
        redirect=True,
        hsts=True,
        changed=("conf.d/sites.conf",),
        expect={
            "conf.d/sites.conf": (
                "# HTTPS copy of the server block at conf.d/sites.conf:10, made by certbot-like",
                "server_name example.org www.example.org;   # both names { }",
                f"listen [::]:443 ssl; {MARK}",
            )
        },
    ),
    "leading-wildcard": Case(
        "wildcard-regex",
        ("*.example.net",),
        base="_minimal",
        changed=("sites/names.conf",),
        expect={
            "sites/names.conf": (
                "# HTTPS copy of the server block at sites/names.conf:1, made by certbot-like",
            )
        },
    ),
    "regular-expression": Case(
        "wildcard-regex",
        ("shop.apps.example.com",),
        base="_minimal",
        changed=("sites/names.conf",),
        expect={
            "sites/names.conf": (
                "# HTTPS copy of the server block at sites/names.conf:7, made by certbot-like",
            )
        },
    ),
    "trailing-wildcard": Case(
        "wildcard-regex",
        ("mail.example.io",),
        base="_minimal",
        changed=("sites/names.conf",),
        expect={
            "sites/names.conf": (
                "# HTTPS copy of the server block at sites/names.conf:13, made by certbot-like",
            )
        },
    ),
    "exact-beats-wildcard": Case(
        "wildcard-regex",
        ("www.example.net",),
        base="_minimal",
        changed=("sites/names.conf",),
        expect={
            "sites/names.conf": (
                "# HTTPS copy of the server block at sites/names.conf:19, made by certbot-like",
            )
        },
        absent={"sites/names.conf": ("block at sites/names.conf:1,",)},
    ),
    "per-address-ipv6": Case(
        "ipv6-addresses",
        ("site.test",),
        base="_minimal",
        changed=("sites/addresses.conf",),
        expect={
            "sites/addresses.conf": (
                f"listen 127.0.0.1:443 ssl; {MARK}",
                f"listen [::1]:443 ssl; {MARK}",
            )
        },
        absent={"sites/addresses.conf": ("block at sites/addresses.conf:14",)},
    ),
    "one-line-block": Case(
        "nesting",
        ("tiny.test",),
        base="_minimal",
        redirect=True,
        changed=("sites/app.conf",),
        expect={
            "sites/app.conf": (
                "# HTTPS copy of the server block at sites/app.conf:12, made by certbot-like",
            )
        },
        split=(
            'server { listen 80; server_name tiny.test; return 200 "ok { ; } # not a comment"; }',
        ),
    ),
    "map-upstream-location-nesting": Case(
        "nesting",
        ("app.test",),
        base="_minimal",
        redirect=True,
        hsts=True,
        changed=("sites/app.conf",),
        expect={
            "sites/app.conf": (
                "# HTTPS copy of the server block at sites/app.conf:14, made by certbot-like",
            )
        },
    ),
    "left-by-certbot": Case(
        "certbot-managed",
        ("managed.example",),
        base="_minimal",
        redirect=True,
        hsts=True,
        changed=("sites/managed.conf",),
        expect={
            "sites/managed.conf": (
                f'add_header Strict-Transport-Security "max-age=31536000" always; {MARK}',
                "ssl_certificate @CONFIG@/live/managed.example/fullchain.pem; # managed by Certbot",
            )
        },
        absent={
            "sites/managed.conf": ("HTTPS copy", f"include @CONFIG@/options-ssl-nginx.conf; {MARK}")
        },
    ),
    "crlf-line-endings": Case(
        "crlf",
        ("crlf.test",),
        base="_minimal",
        redirect=True,
        changed=("sites/crlf.conf",),
        crlf=("sites/crlf.conf",),
    ),
    "same-name-twice": Case(
        "ambiguous",
        ("dup.test",),
        base="_minimal",
        error="dup.test is claimed by several server blocks on *:80 (server_name dup.test): "
        "sites/dup.conf:1, sites/dup.conf:7",
    ),
    "certificate-from-include": Case(
        "included-cert",
        ("snake.test",),
        base="_minimal",
        error="takes ssl_certificate from",
    ),
}


class _Display:
    interactive = False

    def __init__(self) -> None:
        self.messages: list[str] = []

    def notify(self, message: str) -> None:
        self.messages.append(message)

    def pause(self, message: str) -> None:
        raise AssertionError("the nginx plugin never pauses")


class _Hooks:
    def run(self, command: str, env: object, *, what: str) -> HookResult:
        raise AssertionError("the nginx plugin runs no hooks")


def _fill(root: Path, config: Path, case: Case) -> None:
    for layer in (case.base, case.tree):
        if layer:
            shutil.copytree(DATA / layer, root, symlinks=True, dirs_exist_ok=True)
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name != ".keep":
            text = path.read_text()
            path.write_text(text.replace("@ROOT@", str(root)).replace("@CONFIG@", str(config)))
    for name in case.crlf:
        path = root / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    if (root / "_config").is_dir():
        shutil.copytree(root / "_config", config, dirs_exist_ok=True)
        shutil.rmtree(root / "_config")
    self_signed(root / "ssl" / "old.pem", root / "ssl" / "old.key", ("old.example",))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and "logs" not in p.parts
    }


def _assert_only_additions(name: str, before: str, after: str, split: tuple[str, ...]) -> None:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag in ("equal", "insert"):
            continue
        for line in old[i1:i2]:
            if line.strip() in split:
                assert all(part in after for part in line.split()), f"{line!r} lost parts"
                continue
            assert "ssl_certificate" in line, f"{name}: line changed or lost: {line!r}"


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_installs_into_realistic_configurations(case_id: str, tmp_path: Path) -> None:
    case = CASES[case_id]
    root, config = tmp_path / "nginx", tmp_path / "letsencrypt"
    _fill(root, config, case)
    lineage = case.names[0].removeprefix("*.")
    live = config / "live" / lineage
    self_signed(live / "fullchain.pem", live / "privkey.pem", case.names)
    shutil.copy(live / "fullchain.pem", live / "cert.pem")
    ctl = write_ctl(root)
    check = subprocess.run([str(ctl), "-t"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, f"the case itself is not valid nginx: {check.stderr}"
    target = DeployTarget(
        lineage,
        tuple(Identifier("dns", n) for n in case.names),
        live / "cert.pem",
        live / "privkey.pem",
        live / "chain.pem",
        live / "fullchain.pem",
    )
    display = _Display()
    context = PluginContext(
        config_dir=config,
        work_dir=tmp_path / "work",
        logs_dir=tmp_path / "logs",
        display=display,
        hooks=_Hooks(),
    )
    options = NginxOptions(nginx_server_root=str(root), nginx_ctl=str(ctl))
    plugin = NginxPlugin(options, context)
    before = _snapshot(root)

    plugin.prepare()
    if case.error:
        with pytest.raises(PluginError) as raised:
            plugin.deploy(target)
        plugin.restore()
        assert case.error in raised.value.one_line()
        assert _snapshot(root) == before
        return
    plugin.deploy(target)
    if case.redirect:
        plugin.enable_redirect(target)
    if case.hsts:
        plugin.enable_hsts(target)
    plugin.config_test()  # the real `nginx -t`

    after = _snapshot(root)
    changed = {name for name in before if before[name] != after.get(name)}
    assert changed == set(case.changed)
    for name in case.changed:
        old, new = before[name].decode(), after[name].decode()
        _assert_only_additions(name, old, new, case.split)
        lines = {line.strip() for line in new.splitlines()}
        for wanted in case.expect.get(name, ()):
            filled = wanted.replace("@CONFIG@", str(config)).replace("@ROOT@", str(root))
            assert filled in lines, f"{name} lacks {filled!r}:\n{new}"
        for unwanted in case.absent.get(name, ()):
            assert unwanted.replace("@CONFIG@", str(config)) not in new, new
        if name in case.crlf:
            assert new.count("\n") == new.count("\r\n"), "mixed line endings"
    assert (
        (config / "options-ssl-nginx.conf")
        .read_text()
        .startswith("# This file contains important security parameters")
    )
    plugin.restore()
    assert _snapshot(root) == before
    assert not os.listdir(root / "logs") or (root / "logs" / "error.log").exists()
