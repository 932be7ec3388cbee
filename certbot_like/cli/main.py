"""Placeholder entry point."""


def main() -> None:
    raise SystemExit(0)
