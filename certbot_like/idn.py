"""Internationalised domain names: U-labels (``bücher``) to A-labels (``xn--bcher-kva``) and back.

IDNA 2008 with the UTS #46 mapping (non-transitional, as browsers and the CAs do), through the
``idna`` package. Everything past :mod:`certbot_like.names` (the CA, paths, renewal confs,
hooks) only ever sees A-labels; :func:`to_unicode` gives the form shown next to them.

Beyond what IDNA 2008 itself refuses (disallowed code points, joiners out of context, bad
bidi labels, labels over 63 octets once encoded), two kinds of input are refused because
they are the usual look-alike tricks:

- a label mixing Latin, Greek and Cyrillic letters (``apple`` written with a Cyrillic
  ``a``, U+0430);
- a non-ASCII spelling of a plain ASCII name (``example.com`` in fullwidth letters, or
  U+212A KELVIN SIGN for ``k``): the operator is told to give the ASCII name itself.
"""

from __future__ import annotations

import unicodedata

ACE_PREFIX = "xn--"
CONFUSABLE_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC"})


def _script(char: str) -> str | None:
    """The script word of a letter's Unicode name (``LATIN``, ``CYRILLIC`` ...), else None."""
    if not unicodedata.category(char).startswith("L"):
        return None
    return unicodedata.name(char, "").split(" ", 1)[0] or None


def _mixed_scripts(label: str) -> str | None:
    scripts = {script for ch in label if (script := _script(ch)) in CONFUSABLE_SCRIPTS}
    if len(scripts) > 1:
        return " and ".join(sorted(s.capitalize() for s in scripts))
    return None


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if text == "Label too long":
        return "a label is longer than 63 characters once converted to its A-label (xn--...)"
    if text.startswith("Codepoint"):
        return f"{text[0].lower()}{text[1:]} in a domain name (IDNA 2008)"
    return f"{text[0].lower()}{text[1:]} (IDNA 2008)"


def to_ascii(name: str) -> tuple[str | None, str | None]:
    """``(A-label name, None)`` for a non-ASCII *name*, or ``(None, reason)`` when it cannot be
    converted. *name* has no wildcard prefix and holds no shell or control characters."""
    import idna

    try:
        mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
    except idna.IDNAError as exc:
        return None, _reason(exc)
    labels: list[str] = []
    for label in mapped.split("."):
        mixed = _mixed_scripts(label)
        if mixed:
            return None, f"label {label!r} mixes {mixed} letters, which look alike"
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append(idna.alabel(label).decode("ascii"))
        except idna.IDNAError as exc:
            return None, _reason(exc)
    result = ".".join(labels)
    if not any(label.startswith(ACE_PREFIX) for label in labels):
        return None, (
            f"it is a non-ASCII spelling of the ASCII name {result}; give {result} itself"
        )
    return result, None


def check_a_labels(name: str) -> str | None:
    """Why an ASCII *name*'s ``xn--`` labels are not valid A-labels, or ``None``."""
    if ACE_PREFIX not in name:
        return None
    import idna

    for label in name.split("."):
        if label.startswith(ACE_PREFIX):
            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError) as exc:
                return f"label {label!r} is not a valid A-label: {_reason(exc)}"
    return None


def to_unicode(name: str) -> str:
    """*name* with its A-labels shown as U-labels (``*.`` kept); unchanged when it has none or
    one does not decode."""
    if ACE_PREFIX not in name:
        return name
    import idna

    labels = []
    for label in name.split("."):
        try:
            labels.append(idna.ulabel(label) if label.startswith(ACE_PREFIX) else label)
        except (idna.IDNAError, UnicodeError):
            return name
    return ".".join(labels)


def both_forms(name: str) -> str:
    """``xn--bcher-kva.example (bücher.example)`` for an IDN, else *name*."""
    shown = to_unicode(name)
    return name if shown == name else f"{name} ({shown})"


def ascii_name(name: str) -> str:
    """*name* with its U-labels as A-labels (``*.`` kept), lower-cased by the UTS #46 mapping;
    unchanged when it is ASCII or cannot be converted (validation is
    :func:`certbot_like.names.parse_identifier`'s job)."""
    if name.isascii():
        return name
    wildcard = name.startswith("*.")
    converted, _ = to_ascii(name[2:] if wildcard else name)
    if converted is None:
        return name
    return "*." + converted if wildcard else converted
