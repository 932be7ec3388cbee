"""Every ``--json`` document carries ``schema_version`` (docs/json.md)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from certbot_like.cli.output import JSON_SCHEMA_VERSION
from tests.harness.clirun import run_cli

CLI_SOURCES = Path(__file__).resolve().parents[2] / "certbot_like" / "cli"


def test_only_print_json_writes_json_on_stdout() -> None:
    """A command that printed json.dumps itself would skip the schema version."""
    for path in sorted(CLI_SOURCES.glob("*.py")):
        text = path.read_text()
        if path.name != "output.py":
            assert not re.search(r"\bjson\.dumps?\(", text), path.name


@pytest.mark.parametrize("args", [["plugins"], ["certificates"]])
def test_documents_start_with_the_schema_version(args: list[str], tmp_path: Path) -> None:
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
    dirs += ["--logs-dir", str(tmp_path / "l")]
    env = {**os.environ, "CERTBOT_LIKE_CONFIG_FILE": str(tmp_path / "none.ini")}
    (tmp_path / "none.ini").write_text("")
    result = run_cli([*args, *dirs, "--json"], env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert next(iter(doc)) == "schema_version"
    assert doc["schema_version"] == JSON_SCHEMA_VERSION == 1
