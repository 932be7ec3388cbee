"""A VirtualHost of its own for the requested names, when the SSL VirtualHost serving them
also serves names the certificate does not cover.

Replacing such a VirtualHost's certificate would break its other names (a wildcard
``ServerAlias *.example.com`` for ``-d www.example.com``, or several names). Instead a copy
of it, naming exactly the requested names, is written into the same file where Apache's
selection picks it (:mod:`.selection`: the first VirtualHost of an address that names the
host wins, the first of all is the default):

- before the VirtualHost, when another VirtualHost comes first on its addresses (the
  default does not change);
- after it, when it is the default of an address (so the default does not change either);
  a wildcard of it that would still answer a requested name first stops the installation
  with an explanation.

Either way the requested names it lists exactly are taken out of it (Apache would use only
the first VirtualHost naming them), and a VirtualHost left with wildcards only (no
ServerName) is not split: certbot-like stops and says so.

The copy keeps every other line of the block (the certificate lines are changed by the
installer afterwards, as for any SSL VirtualHost naming the names).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from certbot_like.errors import InstallerError
from certbot_like_apache.backup import Checkpoint
from certbot_like_apache.config import ApacheConfig
from certbot_like_apache.selection import VHost, address_groups, pattern_matches

_NAME_LINE = re.compile(rb"^[ \t]*Server(?:Name|Alias)\b[^\n]*\n?", re.I | re.M)


def covered(entry: str, names: Sequence[str]) -> bool:
    """Whether a certificate for *names* covers every host the ServerName/ServerAlias
    *entry* matches: an exact name it lists or one of its ``*.`` wildcards covers (one
    label); a pattern with ``*`` or ``?`` only the same pattern."""
    wanted = {n.lower().rstrip(".") for n in names}
    entry = entry.lower().rstrip(".")
    if "*" in entry or "?" in entry:
        return entry in wanted
    parent = entry.split(".", 1)[1] if "." in entry else ""
    return entry in wanted or (bool(parent) and f"*.{parent}" in wanted)


def needs_split(vhost: VHost, names: Sequence[str]) -> bool:
    """Whether *vhost* serves names a certificate for *names* does not cover."""
    return not all(covered(entry, names) for entry in vhost.names)


def _with_names(text: bytes, names: Sequence[str]) -> bytes:
    """*text* (a ``<VirtualHost>`` block) with its ServerName/ServerAlias lines replaced by
    ``ServerName names[0]`` and one ``ServerAlias`` for the rest.

    Raises:
        InstallerError: a name line is continued with a backslash.
    """
    found = list(_NAME_LINE.finditer(text))
    if any(m.group(0).rstrip(b"\n").endswith(b"\\") for m in found):
        raise InstallerError("A ServerName or ServerAlias line continues on the next line")
    first_line_end = text.find(b"\n") + 1
    at = found[0].start() if found else first_line_end
    indent = text[at : at + len(text[at:]) - len(text[at:].lstrip(b" \t"))] or b"    "
    exact = [n for n in names if "*" not in n]
    ordered = (exact[:1] or list(names[:1])) + [n for n in names if n not in exact[:1]]
    lines = b""
    if "*" not in ordered[0]:
        lines += indent + b"ServerName " + ordered[0].encode() + b"\n"
        ordered = ordered[1:]
    if ordered:
        lines += indent + b"ServerAlias " + " ".join(ordered).encode() + b"\n"
    out = text
    for match in reversed(found):
        out = out[: match.start()] + out[match.end() :]
    return out[:at] + lines + out[at:]


def split_vhost(
    cfg: ApacheConfig, checkpoint: Checkpoint, vhost: VHost, names: Sequence[str], port: int
) -> str:
    """Write a copy of *vhost* for exactly *names* where Apache picks it (module docstring);
    returns where, for the operator.

    Raises:
        InstallerError: *vhost* is an address's default and one of its wildcards would still
            answer a requested name first, or the file cannot be written.
    """
    tree = cfg.tree
    file = os.path.realpath(vhost.file)
    with open(file, "rb") as handle:
        data = handle.read()
    span = tree.aug.span(vhost.key)
    start, end = int(span[5]), int(span[6])
    block = data[start:end]
    line_start = data.rfind(b"\n", 0, start) + 1
    indent = data[line_start:start] if not data[line_start:start].strip() else b""
    note = f"# {', '.join(names)}: a copy of the VirtualHost at {vhost.where}, made by certbot-like"
    copy = note.encode() + b"\n" + indent + _with_names(block, names)
    moved = {n.lower() for n in names}
    kept = [n for n in vhost.names if n not in moved]
    if not any("*" not in n and "?" not in n for n in kept):
        raise InstallerError(
            f"The VirtualHost at {vhost.where} would keep only wildcard names once "
            f"{', '.join(names)} move to a VirtualHost of their own (Apache needs a ServerName)",
            "Give these names a VirtualHost of their own, then use `certbot-like install`",
        )
    rest = _with_names(block, kept)
    groups = address_groups(port, [v for v in cfg.vhosts() if v.serves_port(port)])
    if not any(members[0] == vhost for members in groups.values()):
        new = data[:start] + copy + b"\n\n" + indent + rest + data[end:]
        where = "before"
    else:
        still = [n for n in names for k in kept if ("*" in k or "?" in k) and pattern_matches(k, n)]
        if still:
            raise InstallerError(
                f"The VirtualHost at {vhost.where} also serves names the certificate does not "
                f"cover, and is the default VirtualHost of its address, so a VirtualHost for "
                f"{', '.join(names)} cannot be placed before it without changing the default",
                "Give these names a VirtualHost of their own (after the first one of the "
                "address), then use `certbot-like install`",
            )
        new = data[:start] + rest + b"\n\n" + indent + copy + data[end:]
        where = "after"
    checkpoint.write_file(file, new, os.stat(file).st_mode & 0o777)
    return f"a VirtualHost for {', '.join(names)} {where} {vhost.where}"
