"""A fast reader for the plain renewal confs certbot and certbot-like write.

configobj parses a renewal conf in about 0.5 ms; over 10,000 lineages that is most of a
``certificates`` run. The confs both clients write use a small part of configobj's syntax:
``key = value`` lines, ``a, b,`` lists, ``[section]`` and ``[[subsection]]`` headers and
whole-line comments. :func:`parse_plain` reads exactly that part and answers None for
anything else (quotes, inline comments, backslashes, odd keys, duplicates, a BOM, CR line
ends ...), so the caller falls back to configobj and gets configobj's result or error.
Whenever it answers, the answer equals what configobj (``list_values=True``,
``interpolation=False``) returns, as nested dicts in file order:
``tests/unit/test_conf_syntax.py`` checks that over generated and certbot-written confs.
"""

from __future__ import annotations

import re

ConfTree = dict[str, "str | list[str] | ConfTree"]

_KEY = re.compile(r"[^\s\"'#=\[\],]+")
_SECTION = re.compile(r"(\[+)\s*([^\s\"'#=\[\],]+)\s*(\]+)")
_UNSURE = re.compile(r"[\"'#\\]")


def _value(text: str) -> str | list[str] | None:
    if _UNSURE.search(text):
        return None
    if "," not in text:
        return text
    items = [item.strip() for item in text.split(",")]
    if items[-1] == "":
        items.pop()
    if not items or any(item == "" for item in items):
        return None  # ``,`` alone or ``a,,b``: let configobj decide
    return items


def parse_plain(data: bytes) -> ConfTree | None:
    """The conf in *data* as nested dicts, or None when it is not plain (use configobj)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\r" in text or text.startswith("\ufeff"):
        return None
    root: ConfTree = {}
    stack: list[ConfTree] = [root]  # stack[d] is the current section at depth d
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        if line[0] == "[":
            match = _SECTION.fullmatch(line)
            if match is None or len(match.group(1)) != len(match.group(3)):
                return None
            depth = len(match.group(1))
            if depth > len(stack):  # skipping a level: configobj refuses it
                return None
            parent = stack[depth - 1]
            name = match.group(2)
            if name in parent:
                return None
            section: ConfTree = {}
            parent[name] = section
            del stack[depth:]
            stack.append(section)
            continue
        key, equals, rest = line.partition("=")
        key = key.strip()
        if not equals or _KEY.fullmatch(key) is None:
            return None
        value = _value(rest.strip())
        current = stack[-1]
        if value is None or key in current:
            return None
        current[key] = value
    return root
