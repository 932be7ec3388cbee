"""The generated and hand-written docs match the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from certbot_like.errors import EXIT_CODES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_cli_reference_is_up_to_date() -> None:
    # a fresh process: click caches help options on commands another test may have run
    fresh = subprocess.run(
        [sys.executable, "-m", "tests.harness.gen_cli_docs"],
        check=True,
        capture_output=True,
        text=True,
        cwd=DOCS.parent,
    ).stdout
    assert (DOCS / "cli-reference.md").read_text() == fresh, "run `make docs`"


def test_exit_code_table_lists_every_code() -> None:
    table = (DOCS / "exit-codes.md").read_text()
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == set(EXIT_CODES)
