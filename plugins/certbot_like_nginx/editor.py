"""Text edits at the positions of statements, leaving every other byte alone.

Files are never re-serialised: an edit is a :class:`Change` (replace ``text[start:end]``)
computed from the offsets :mod:`.lexer` recorded. New lines are indented like their
neighbours and use the file's line ending; a replaced argument keeps the rest of its line
(indentation, other arguments, trailing comment). Everything here is pure: text in, text
out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .lexer import Statement

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:=[]*~^$+@%,")


@dataclass(frozen=True)
class Change:
    """Replace ``text[start:end]`` with ``new`` (an insertion when start == end)."""

    start: int
    end: int
    new: str


def apply(text: str, changes: Iterable[Change], start: int = 0, end: int | None = None) -> str:
    """*text* (or its ``[start:end]`` slice) with *changes* applied.

    Insertions at the same position keep their order; changes outside the slice are
    ignored.

    Raises:
        ValueError: two changes overlap.
    """
    stop = len(text) if end is None else end
    chosen = sorted(
        (c for c in changes if start <= c.start and c.end <= stop), key=lambda c: (c.start, c.end)
    )
    out: list[str] = []
    pos = start
    for change in chosen:
        if change.start < pos:
            raise ValueError(f"overlapping edits at offset {change.start}")
        out.append(text[pos : change.start])
        out.append(change.new)
        pos = change.end
    out.append(text[pos:stop])
    return "".join(out)


def newline_of(text: str) -> str:
    """The file's line ending (``\\r\\n`` when its first line ends so)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def line_end(text: str, pos: int) -> int:
    """Offset of the newline ending the line holding *pos* (or the end of the text)."""
    found = text.find("\n", pos)
    return len(text) if found < 0 else found


def indent_at(text: str, pos: int) -> str:
    """The indentation of the line holding *pos*."""
    start = line_start(text, pos)
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _alone_before(text: str, pos: int) -> bool:
    return text[line_start(text, pos) : pos].strip() == ""


def _rest_is_blank(text: str, pos: int) -> bool:
    """Only blanks or a comment follow *pos* on its line."""
    rest = text[pos : line_end(text, pos)].strip()
    return rest == "" or rest.startswith("#")


def trailing_comment(text: str, stmt: Statement) -> str:
    """The comment after *stmt* on its last line (``""`` when there is none)."""
    rest = text[stmt.end : line_end(text, stmt.end)].strip()
    return rest if rest.startswith("#") else ""


def child_indent(text: str, block: Statement) -> str:
    """The indentation for a new statement inside *block* (like its first child's)."""
    assert block.block is not None
    for child in block.block:
        if _alone_before(text, child.start):
            return indent_at(text, child.start)
    unit = "\t" if "\n\t" in text else "    "
    return indent_at(text, block.start) + unit


def _lines(lines: Sequence[str], indent: str, newline: str) -> str:
    return "".join(f"{indent}{line}{newline}" for line in lines)


def insert_first(text: str, block: Statement, lines: Sequence[str]) -> Change:
    """Insert *lines* as the first statements of *block* (after its ``{`` line)."""
    assert block.open_brace is not None
    newline, indent = newline_of(text), child_indent(text, block)
    after = block.open_brace + 1
    if _rest_is_blank(text, after):
        eol = line_end(text, after)
        if eol == len(text):
            return Change(eol, eol, newline + _lines(lines, indent, newline))
        return Change(eol + 1, eol + 1, _lines(lines, indent, newline))
    skip = after
    while skip < len(text) and text[skip] in " \t":
        skip += 1
    return Change(after, skip, newline + _lines(lines, indent, newline) + indent)


def insert_after_stmt(text: str, block: Statement, stmt: Statement, lines: Sequence[str]) -> Change:
    """Insert *lines* right after *stmt* (a child of *block*), on lines of their own."""
    newline, indent = newline_of(text), child_indent(text, block)
    if _rest_is_blank(text, stmt.end):
        eol = line_end(text, stmt.end)
        if eol < len(text):
            return Change(eol + 1, eol + 1, _lines(lines, indent, newline))
    return Change(stmt.end, stmt.end, newline + _lines(lines, indent, newline).rstrip("\r\n"))


def insert_last(text: str, block: Statement, lines: Sequence[str]) -> Change:
    """Insert *lines* as the last statements of *block* (before its ``}``)."""
    assert block.close_brace is not None and block.open_brace is not None
    newline, indent = newline_of(text), child_indent(text, block)
    close = block.close_brace
    if _alone_before(text, close):
        start = line_start(text, close)
        return Change(start, start, _lines(lines, indent, newline))
    closing_indent = indent_at(text, block.start)
    start = close
    while start > block.open_brace + 1 and text[start - 1] in " \t":
        start -= 1
    return Change(start, close, newline + _lines(lines, indent, newline) + closing_indent)


def insert_after_block(text: str, block: Statement, snippet: str) -> Change:
    """Insert *snippet* (lines already indented, no final newline) after *block*, with a
    blank line between them."""
    newline = newline_of(text)
    if _rest_is_blank(text, block.end):
        eol = line_end(text, block.end)
        if eol == len(text):
            return Change(eol, eol, newline + newline + snippet + newline)
        return Change(eol + 1, eol + 1, newline + snippet + newline)
    return Change(block.end, block.end, newline + newline + snippet + newline)


def quote_arg(arg: str) -> str:
    """*arg* as an nginx token: bare when safe, else in double quotes.

    Raises:
        ValueError: *arg* cannot be written (a newline in it).
    """
    if "\n" in arg or "\r" in arg:
        raise ValueError(f"cannot write {arg!r} into nginx configuration")
    if arg and all(c in _PLAIN for c in arg) and not arg.startswith("#"):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def statement(directive: str, *args: str, comment: str = "") -> str:
    """One statement as text: ``directive arg ...;`` with an optional trailing comment."""
    text = " ".join([directive, *(quote_arg(a) for a in args)]) + ";"
    return f"{text} {comment}" if comment else text


def replace_args(text: str, stmt: Statement, args: Sequence[str]) -> Change:
    """Replace the arguments of *stmt* (everything else on its line stays)."""
    new = " ".join(quote_arg(a) for a in args)
    if not stmt.arg_tokens:
        at = stmt.start + len(stmt.directive)
        return Change(at, at, " " + new)
    return Change(stmt.arg_tokens[0].start, stmt.arg_tokens[-1].end, new)


def remove(text: str, stmt: Statement) -> Change:
    """Remove *stmt*: its whole line(s) with a trailing comment when it stands alone,
    else only the statement itself."""
    if _alone_before(text, stmt.start) and _rest_is_blank(text, stmt.end):
        start = line_start(text, stmt.start)
        eol = line_end(text, stmt.end)
        return Change(start, min(eol + 1, len(text)), "")
    end = stmt.end
    while end < len(text) and text[end] in " \t":
        end += 1
    return Change(stmt.start, end, "")
