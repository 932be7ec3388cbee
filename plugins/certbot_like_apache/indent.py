"""Indenting the lines Augeas adds.

Augeas writes a node it did not parse at column 0. After a save, each line of an added
directive (and the opening and closing lines of an added section) gets the indentation of
an existing sibling, or its parent's plus one level of the file's own unit (a tab or its
first run of spaces). Only lines of added nodes that start at column 0 are touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

_SPECIAL = re.compile(r"([\[\]()*?=!|,'\"\s\\])")


def aug_path(file: str) -> str:
    """The Augeas path of *file* (special characters escaped)."""
    return "/files" + _SPECIAL.sub(r"\\\1", file)


def indent_added(aug: Any, added: Sequence[str], saved: Sequence[str]) -> list[str]:
    """Indent the added nodes *added* in the just-saved files *saved*; returns the files
    rewritten (their Augeas spans are stale until they are parsed again)."""
    by_file: dict[str, list[str]] = {}
    for path in added:
        if aug.match(path):
            by_file.setdefault(str(aug.span(path)[0]), []).append(path)
    rewritten = []
    for file, paths in by_file.items():
        if file not in saved:
            continue
        with open(file, "rb") as handle:
            data = handle.read()
        lines = data.split(b"\n")
        indents: dict[str, bytes] = {}
        wanted: dict[int, bytes] = {}
        for path in sorted(paths, key=lambda p: p.count("/")):
            indent = _child_indent(aug, path.rsplit("/", 1)[0], file, paths, data, indents)
            indents[path] = indent
            span = aug.span(path)
            wanted[data.count(b"\n", 0, int(span[5]))] = indent
            if aug.label(path) != "directive":
                wanted[data.count(b"\n", 0, int(span[6]) - 1)] = indent
        for number, indent in wanted.items():
            if lines[number][:1] not in (b" ", b"\t"):
                lines[number] = indent + lines[number]
        fixed = b"\n".join(lines)
        if fixed != data:
            fd = os.open(file, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
            with os.fdopen(fd, "wb") as handle:
                handle.write(fixed)
            rewritten.append(file)
    return rewritten


def _child_indent(
    aug: Any, parent: str, file: str, added: Sequence[str], data: bytes, known: dict[str, bytes]
) -> bytes:
    """The indentation of a new child of *parent*: an existing sibling's, else the
    parent's plus one level."""
    if parent in known:
        return known[parent] + unit(data)
    if parent == aug_path(file):
        return b""
    for child in aug.match(parent + "/*"):
        if child in added or aug.label(child) == "arg":
            continue
        return line_indent(data, int(aug.span(child)[5]))
    return line_indent(data, int(aug.span(parent)[5])) + unit(data)


def line_indent(data: bytes, offset: int) -> bytes:
    """The leading blanks of the line holding *offset*."""
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", start)
    line = data[start : end if end >= 0 else len(data)]
    return line[: len(line) - len(line.lstrip(b" \t"))]


def unit(data: bytes) -> bytes:
    """One level of indentation as the file uses it (a tab, or its first run of spaces)."""
    match = re.search(rb"^([ \t]+)\S", data, re.MULTILINE)
    if match is None:
        return b"    "
    return b"\t" if match.group(1).startswith(b"\t") else match.group(1)
