"""Character positions for crossplane's reading of an nginx file.

crossplane (the parser of record) reports line numbers only; text-level edits need exact
offsets. :func:`tokenize` follows crossplane's lexer rule for rule (backslash escapes,
comments, quotes, ``${...}``, the special tokens ``{ } ;``) while recording where each token
starts and ends, and :func:`statements` groups the tokens into directives and blocks as
crossplane's parser does. :func:`check_against_crossplane` then compares both, token by
token and statement by statement: an edit is only ever made at a position whose reading
crossplane agrees with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SPECIAL = ("{", "}", ";")


class LexError(Exception):
    """The text cannot be read as nginx configuration (with the line where it stops)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Token:
    """One token: its text as crossplane returns it, and ``text[start:end]`` in the file."""

    text: str
    line: int
    quoted: bool
    start: int
    end: int

    @property
    def is_comment(self) -> bool:
        return not self.quoted and self.text.startswith("#")

    @property
    def special(self) -> bool:
        return not self.quoted and self.text in SPECIAL


@dataclass(frozen=True)
class Statement:
    """A directive with its arguments and, for a block, its children and braces.

    ``start`` is the offset of the directive name, ``end`` the offset just after its ``;``
    or closing ``}``. ``includes`` is filled in by the parser (files an ``include`` loads).
    """

    directive: str
    args: tuple[str, ...]
    line: int
    start: int
    end: int
    arg_tokens: tuple[Token, ...]
    block: tuple[Statement, ...] | None = None
    open_brace: int | None = None
    close_brace: int | None = None
    includes: tuple[str, ...] = field(default=(), compare=False)


class _Eof(Exception):
    pass


class _Units:
    """Characters as crossplane sees them: a backslash and the next character are one unit;
    the line count goes up on the unit that ends a line (crossplane's ``_iterlinecount``).
    crossplane reads with universal newlines, so ``\\r\\n`` is one line end (kept whole
    here, so that offsets stay exact) and a lone ``\\r`` is one too."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def next(self) -> tuple[str, int, int, int]:
        text, start = self.text, self.pos
        if start >= len(text):
            raise _Eof
        end = start + 1
        if text[start] == "\\":
            if start + 1 >= len(text):
                raise _Eof  # crossplane stops at a backslash ending the file
            end += 1
        if text[end - 1] == "\r" and text.startswith("\n", end):
            end += 1
        unit = text[start:end]
        self.pos = end
        if unit.endswith(("\n", "\r")):
            self.line += 1
        return unit, self.line, start, end


def _ends_line(unit: str) -> bool:
    return unit.endswith(("\n", "\r"))


def tokenize(text: str) -> list[Token]:
    """The tokens of *text*, exactly as crossplane's lexer yields them, with positions.

    Like crossplane, an unterminated token at the end of the file is dropped (the parser
    then reports the missing ``;`` or ``}``).
    """
    out: list[Token] = []
    try:
        _tokenize(_Units(text), out)
    except _Eof:
        pass
    return out


def _tokenize(units: _Units, out: list[Token]) -> None:  # noqa: PLR0912 - mirrors crossplane
    token, token_line, token_start, token_end = "", 0, 0, 0
    while True:
        char, line, start, end = units.next()
        if char.isspace():
            if token:
                out.append(Token(token, token_line, False, token_start, token_end))
                token = ""
            while char.isspace():
                char, line, start, end = units.next()
        if not token and char == "#":
            comment_line, comment_start = line, start
            while not _ends_line(char):
                token += char
                token_end = end
                char, _, start, end = units.next()
            out.append(Token(token, comment_line, False, comment_start, token_end))
            token = ""
            continue
        if not token:
            token_line, token_start = line, start
        if token and token[-1] == "$" and char == "{":
            while token[-1] != "}" and not char.isspace():
                token += char
                token_end = end
                char, line, start, end = units.next()
        if char in ('"', "'"):
            if token:
                token += char
                token_end = end
                continue
            quote = char
            char, line, start, end = units.next()
            while char != quote:
                token += quote if char == "\\" + quote else char
                char, line, start, end = units.next()
            out.append(Token(token, token_line, True, token_start, end))
            token = ""
            continue
        if char in SPECIAL:
            if token:
                out.append(Token(token, token_line, False, token_start, token_end))
                token = ""
            out.append(Token(char, line, False, start, end))
            continue
        token += char
        token_end = end


def statements(tokens: Sequence[Token]) -> tuple[Statement, ...]:
    """Group *tokens* into statements as crossplane's parser does (comments dropped).

    Raises:
        LexError: unbalanced braces, a directive cut off by the end of the file, or a
            directive ended by ``}`` (nginx rejects all of these).
    """
    stream = iter([t for t in tokens if not t.is_comment])
    body, closer = _block(stream)
    if closer is not None:
        raise LexError('unexpected "}"', closer.line)
    return body


def _block(stream: Iterator[Token]) -> tuple[tuple[Statement, ...], Token | None]:
    """Statements up to the ``}`` closing the current block (``None`` at end of file)."""
    body: list[Statement] = []
    for tok in stream:
        if tok.special and tok.text == "}":
            return tuple(body), tok
        if tok.special:
            raise LexError(f'unexpected "{tok.text}"', tok.line)
        args: list[Token] = []
        term = next(stream, None)
        while term is not None and not term.special:
            args.append(term)
            term = next(stream, None)
        if term is None:
            raise LexError('unexpected end of file, expecting ";" or "}"', tok.line)
        if term.text == "}":
            raise LexError(f'directive "{tok.text}" is not terminated by ";"', tok.line)
        if term.text == ";":
            body.append(
                Statement(tok.text, _args(args), tok.line, tok.start, term.end, tuple(args))
            )
            continue
        inner, closer = _block(stream)
        if closer is None:
            raise LexError('unexpected end of file, expecting "}"', tok.line)
        body.append(
            Statement(
                tok.text,
                _args(args),
                tok.line,
                tok.start,
                closer.end,
                tuple(args),
                block=inner,
                open_brace=term.start,
                close_brace=closer.start,
            )
        )
    return tuple(body), None


def _args(tokens: Sequence[Token]) -> tuple[str, ...]:
    return tuple(t.text for t in tokens)


def if_condition(args: Sequence[str]) -> list[str]:
    """The condition of ``if (...)`` without its parentheses (crossplane's reading)."""
    out = list(args)
    if out and out[0].startswith("(") and out[-1].endswith(")"):
        out[0] = out[0][1:].lstrip()
        out[-1] = out[-1][:-1].rstrip()
        start = int(not out[0])
        end = len(out) - int(not out[-1])
        out = out[start:end]
    return out


def _fold(text: str) -> str:
    """How crossplane sees *text*: invalid UTF-8 replaced, universal newlines."""
    decoded = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return decoded.replace("\r\n", "\n").replace("\r", "\n")


def check_against_crossplane(
    ours: Sequence[Token],
    theirs: Sequence[tuple[str, int, bool]],
    stmts: Sequence[Statement],
    parsed: Sequence[Mapping[str, Any]],
) -> str | None:
    """``None`` when our tokens and statements are crossplane's, else the first difference.

    *theirs* is ``crossplane.lex(path)``, *parsed* the file's ``parsed`` list from
    ``crossplane.parse`` (without comments).
    """
    if len(ours) != len(theirs):
        return f"{len(ours)} tokens instead of crossplane's {len(theirs)}"
    for mine, (text, line, quoted) in zip(ours, theirs, strict=True):
        if (_fold(mine.text), mine.line, mine.quoted) != (text, line, quoted):
            return f"token {mine.text!r} on line {mine.line} differs from crossplane's {text!r}"
    return _compare_statements(stmts, parsed)


def crossplane_statements(parsed: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """crossplane's statements without the ``#`` entries it adds for comments found
    between a directive's arguments (even when asked for no comments)."""
    return [p for p in parsed if p["directive"] != "#"]


def _compare_statements(
    stmts: Sequence[Statement], parsed: Sequence[Mapping[str, Any]]
) -> str | None:
    parsed = crossplane_statements(parsed)
    if len(stmts) != len(parsed):
        return f"{len(stmts)} statements instead of crossplane's {len(parsed)}"
    for mine, theirs in zip(stmts, parsed, strict=True):
        args = if_condition(mine.args) if mine.directive == "if" else list(mine.args)
        if (
            _fold(mine.directive) != theirs["directive"]
            or [_fold(a) for a in args] != theirs["args"]
            or mine.line != theirs["line"]
            or (mine.block is None) != ("block" not in theirs)
        ):
            return f"directive {mine.directive!r} on line {mine.line} differs from crossplane's"
        if mine.block is not None:
            problem = _compare_statements(mine.block, theirs["block"])
            if problem:
                return problem
    return None
