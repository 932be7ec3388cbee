"""The generated and hand-written docs match the code."""

from __future__ import annotations

import re
from pathlib import Path

from certbot_like.errors import EXIT_CODES
from tests.harness.gen_cli_docs import render

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_cli_reference_is_up_to_date() -> None:
    assert (DOCS / "cli-reference.md").read_text() == render(), "run `make docs`"


def test_exit_code_table_lists_every_code() -> None:
    table = (DOCS / "exit-codes.md").read_text()
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == set(EXIT_CODES)
