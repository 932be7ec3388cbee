"""SSL VirtualHosts: copied from the HTTP one, next to it, and enabled the layout's way.

The copy is the HTTP block's own text (comments included) inside ``<IfModule mod_ssl.c>``,
in ``<name>-le-ssl.conf`` next to the HTTP VirtualHost's file (or in ``--apache-vhost-root``);
a second VirtualHost from the same file is appended to the same copy. In the copy,
redirects to ``https://`` are commented out (they would loop on HTTPS), as are SSL
directives the HTTP block carried; the addresses move to the HTTPS port and the certificate
directives are appended through Augeas. On Debian the file is enabled with a
``sites-enabled`` link as ``a2ensite`` makes; when no ``Include`` covers it, an ``Include``
line is appended to the HTTP VirtualHost's file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from certbot_like.interfaces import DeployTarget
from certbot_like_apache.augeas_tree import ConfigTree, aug_path
from certbot_like_apache.backup import Checkpoint
from certbot_like_apache.config import ApacheConfig
from certbot_like_apache.selection import Address, VHost

REDIRECTS = ("redirect", "redirectmatch", "redirectpermanent", "redirecttemp")
COPIED_SSL = ("sslengine", "sslcertificatefile", "sslcertificatekeyfile", "sslcertificatechainfile")
DISABLED_NOTE = b"# certbot-like disabled this line in the HTTPS copy: "


def ssl_file_for(http_file: str, extension: str, vhost_root: str | None) -> str:
    """``/etc/apache2/sites-available/example.conf`` -> ``.../example-le-ssl.conf``."""
    base = os.path.basename(http_file)
    stem = base[: -len(".conf")] if base.endswith(".conf") else base
    return os.path.join(vhost_root or os.path.dirname(http_file), stem + extension)


def https_redirects(tree: ConfigTree, path: str) -> list[str]:
    """Directives of the VirtualHost at *path* that redirect to ``https://``: each such
    ``RewriteRule`` with the ``RewriteCond`` lines before it, and ``Redirect*`` lines."""
    found: list[str] = []
    conditions: list[str] = []
    for child in tree.aug.match(path + "/directive"):
        name = (tree.aug.get(child) or "").lower()
        args = tree.args(child)
        if name == "rewritecond":
            conditions.append(child)
            continue
        if name == "rewriterule":
            if len(args) > 1 and args[1].lower().startswith("https://"):
                found.extend([*conditions, child])
        elif name in REDIRECTS and any(a.lower().startswith("https://") for a in args):
            found.append(child)
        conditions = []
    return found


def _comment_out(data: bytes, spans: Sequence[tuple[int, int]]) -> bytes:
    for start, end in sorted(spans, reverse=True):
        text = data[start:end].replace(b"\\\n", b" ").rstrip(b"\n")
        lines = b"".join(DISABLED_NOTE + line.strip() + b"\n" for line in text.split(b"\n"))
        data = data[:start] + lines + data[end:]
    return data


def _block(text: bytes) -> bytes:
    return text if text.endswith(b"\n") else text + b"\n"


def create_ssl_copies(
    cfg: ApacheConfig, checkpoint: Checkpoint, http_vhosts: Sequence[VHost]
) -> dict[str, str]:
    """Write the SSL copies of *http_vhosts*; returns HTTP key -> Augeas path of its copy
    (not yet converted: see :func:`convert_copy`).

    Raises:
        InstallerError: a file could not be written or parsed.
    """
    tree = cfg.tree
    by_file: dict[str, list[VHost]] = {}
    for vhost in http_vhosts:
        target = ssl_file_for(
            vhost.file, cfg.options.apache_le_vhost_ext, cfg.options.apache_vhost_root
        )
        by_file.setdefault(target, []).append(vhost)
    copies: dict[str, str] = {}
    for target, group in by_file.items():
        old = b""
        if os.path.exists(target):
            with open(target, "rb") as handle:
                old = handle.read()
        blocks = b"".join(_block(tree.text_of(v.key)) for v in group)
        separator = b"\n" if old and not old.endswith(b"\n") else b""
        data = old + separator + b"<IfModule mod_ssl.c>\n" + blocks + b"</IfModule>\n"
        mode = os.stat(group[0].file).st_mode & 0o777
        checkpoint.write_file(target, data, mode)
        tree.load_new_file(target)
        new = _new_vhosts(tree, target, len(old))
        disable = [d for path in new for d in https_redirects(tree, path) + _copied_ssl(tree, path)]
        if disable:
            spans = [(tree.span_start(d), int(tree.aug.span(d)[6])) for d in disable]
            checkpoint.write_file(target, _comment_out(data, spans), mode)
            tree.load_new_file(target)
            new = _new_vhosts(tree, target, len(old))
        for vhost, path in zip(group, new, strict=True):
            copies[vhost.key] = path
        enable_site(cfg, checkpoint, target, group[0].file)
    return copies


def _new_vhosts(tree: ConfigTree, file: str, offset: int) -> list[str]:
    paths = tree.sections(aug_path(os.path.realpath(file)), "VirtualHost")
    return [p for p in paths if tree.span_start(p) >= offset]


def _copied_ssl(tree: ConfigTree, path: str) -> list[str]:
    return [
        child
        for child in tree.aug.match(path + "/directive")
        if (tree.aug.get(child) or "").lower() in COPIED_SSL
    ]


def enable_site(cfg: ApacheConfig, checkpoint: Checkpoint, file: str, http_file: str) -> None:
    """Make Apache read *file*: a ``sites-enabled`` link on Debian when the file is in
    ``sites-available``, else an ``Include`` in *http_file* unless one already covers it.

    Raises:
        InstallerError: the link could not be made.
    """
    tree, layout = cfg.tree, cfg.layout
    real = os.path.realpath(file)
    if layout.sites_available and layout.sites_enabled:
        available = os.path.realpath(tree.server_root / layout.sites_available)
        if os.path.dirname(real) == available:
            link = os.path.join(tree.server_root, layout.sites_enabled, os.path.basename(real))
            if not os.path.lexists(link):
                checkpoint.symlink(link, os.path.relpath(real, os.path.dirname(link)))
            if tree.includes_path(link):
                return
    if tree.includes_path(real) or tree.includes_path(file):
        return
    parent = aug_path(os.path.realpath(http_file))
    already = [p for p in tree.directives(parent, "Include", deep=False) if tree.args(p) == [real]]
    if not already:
        tree.add_directive(parent, "Include", [real])


def convert_copy(
    tree: ConfigTree, path: str, http_port: int, https_port: int, add_names: Sequence[str]
) -> None:
    """Move the copy at *path* to the HTTPS port and give it the names it lacks."""
    addresses = [Address.parse(a) for a in tree.args(path)]
    moved = list(
        dict.fromkeys(str(a.with_port(https_port)) for a in addresses if a.serves_port(http_port))
    )
    tree.set_args(path, moved or [f"*:{https_port}"])
    has_name = bool(tree.directives(path, "ServerName"))
    for name in add_names:
        if not has_name and not name.startswith("*"):
            tree.add_directive(path, "ServerName", [name])
            has_name = True
        else:
            tree.add_directive(path, "ServerAlias", [name])


def set_certificate(
    tree: ConfigTree, path: str, target: DeployTarget, options_file: str | None
) -> None:
    """Point the SSL VirtualHost at *path* to *target*'s ``live/`` files.

    A block that uses ``SSLCertificateChainFile`` keeps that style (cert + chain); otherwise
    ``SSLCertificateFile`` is the full chain. Existing lines are changed in place; missing
    ones are appended, with ``SSLEngine on`` and, for copies we made, the options Include.
    """
    chains = tree.directives(path, "SSLCertificateChainFile", deep=False)
    if chains:
        tree.set_args(chains[0], [str(target.chain_path)])
        cert = str(target.cert_path)
    else:
        cert = str(target.fullchain_path)
    engines = tree.directives(path, "SSLEngine", deep=False)
    if not any(tree.args(p)[:1] and tree.args(p)[0].lower() == "on" for p in engines):
        tree.add_directive(path, "SSLEngine", ["on"])
    for name, value in (
        ("SSLCertificateFile", cert),
        ("SSLCertificateKeyFile", str(target.key_path)),
    ):
        existing = tree.directives(path, name, deep=False)
        if existing:
            tree.set_args(existing[0], [value])
        else:
            tree.add_directive(path, name, [value])
    if options_file:
        includes = [tree.args(p) for p in tree.directives(path, "Include", deep=False)]
        if [options_file] not in includes:
            tree.add_directive(path, "Include", [options_file])


def names_to_add(vhost: VHost, names: Sequence[str]) -> list[str]:
    """The names of *names* that *vhost* does not match (copies of a default VirtualHost)."""
    return [name for name in names if not vhost.match(name)]
