"""The providers of the installed dns-lexicon and their options (for checks and docs).

``python -m certbot_like_dns_lexicon.providers`` prints the Markdown table that
``docs/dns.md`` carries; ``... providers docs/dns.md`` rewrites the table in that file
(between the ``lexicon-providers`` markers).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

START = "<!-- lexicon-providers:start -->"
END = "<!-- lexicon-providers:end -->"


@dataclass(frozen=True)
class ProviderInfo:
    """One lexicon provider: whether its extra dependencies are installed, and its options."""

    name: str
    available: bool
    options: tuple[str, ...]


def find_providers() -> dict[str, bool]:
    """Provider name -> extra dependencies installed, as lexicon itself decides."""
    try:
        from lexicon._private.discovery import find_providers as find
    except ImportError:  # pragma: no cover - lexicon < 3.12
        from lexicon.discovery import find_providers as find  # type: ignore[no-redef]
    found: dict[str, bool] = find()
    return found


def provider_module(name: str) -> ModuleType:
    """Import lexicon's module for provider *name*.

    Raises:
        ImportError: unknown provider, or its extra dependencies are missing.
    """
    return importlib.import_module(f"lexicon._private.providers.{name}")


def provider_options(name: str) -> tuple[str, ...]:
    """The option names provider *name* declares (``auth_token``, ``zone_id`` ...).

    Raises:
        ImportError: unknown provider, or its extra dependencies are missing.
    """
    parser = argparse.ArgumentParser(add_help=False)
    provider_module(name).Provider.configure_parser(parser)
    return tuple(action.dest for action in parser._actions if action.dest != "help")


def catalog() -> list[ProviderInfo]:
    """Every provider of the installed lexicon, sorted by name."""
    infos = []
    for name, installed in sorted(find_providers().items()):
        options: tuple[str, ...] = ()
        available = installed
        if installed:
            try:
                options = provider_options(name)
            except Exception:  # a provider module that fails to import is unavailable
                available = False
        infos.append(ProviderInfo(name, available, options))
    return infos


def lexicon_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dns-lexicon")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def markdown() -> str:
    """The provider table for docs/dns.md, between its markers."""
    lines = [
        START,
        f"Generated from dns-lexicon {lexicon_version()} by "
        "`python -m certbot_like_dns_lexicon.providers docs/dns.md`.",
        "",
        "| Provider | Options (`dns_lexicon_<provider>_<option>` in the INI file) |",
        "|---|---|",
    ]
    for info in catalog():
        if info.name == "auto":
            options = (
                "detects the provider from the zone's nameservers: `mapping_override` and "
                "`auto_<provider>_<option>` for each provider's options"
            )
        elif info.available:
            options = ", ".join(f"`{o}`" for o in info.options) or "(none)"
        else:
            options = f"needs `pip install 'dns-lexicon[{info.name}]'`"
        lines.append(f"| `{info.name}` | {options} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def replace_block(text: str, block: str) -> str:
    """*text* with the part between the markers (included) replaced by *block*.

    Raises:
        ValueError: the markers are missing.
    """
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {START} ... {END} are missing")
    return text[:start] + block + text[end + len(END) + 1 :]


def main(argv: list[str] | None = None) -> int:
    """Print the table, or rewrite it in the file given as argument."""
    args = sys.argv[1:] if argv is None else argv
    block = markdown()
    if not args:
        sys.stdout.write(block)
        return 0
    path = Path(args[0])
    path.write_text(replace_block(path.read_text(encoding="utf-8"), block), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
