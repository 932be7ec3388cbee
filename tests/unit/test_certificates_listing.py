"""``certificates`` prints each lineage as it reads it; ``--json`` stays one valid document.

Real lineages in certbot's layout (tests/harness/lineages.py), the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certbot_like.cli.output import JSON_SCHEMA_VERSION
from certbot_like.storage.layout import Layout
from tests.harness.clirun import run_cli
from tests.harness.lineages import LocalIssuer, make_lineages

PARAMS = {"authenticator": "standalone", "server": "https://127.0.0.1:9/dir"}
NAMES = ["a.test", "b.test", "c.test", "mismatched.test", "broken.test"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listing")
    layout = Layout(root / "config", root / "work", root / "logs")
    make_lineages(layout, NAMES, PARAMS, issuer=LocalIssuer())
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (root / "config/archive/mismatched.test/privkey1.pem").write_bytes(other)
    (root / "config/archive/broken.test/cert1.pem").write_bytes(b"not a certificate\n")
    (root / "none.ini").write_text("")
    return root


def certificates(root: Path, *args: str) -> tuple[int, str, str]:
    dirs = ["--config-dir", str(root / "config"), "--work-dir", str(root / "work")]
    dirs += ["--logs-dir", str(root / "logs")]
    env = {**os.environ, "CERTBOT_LIKE_CONFIG_FILE": str(root / "none.ini")}
    result = run_cli(["certificates", *dirs, *args], env=env)
    return result.returncode, result.stdout, result.stderr


def test_json_is_one_document_with_one_line_per_lineage(tree: Path) -> None:
    code, out, err = certificates(tree, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc) == ["schema_version", "certificates"]
    assert doc["schema_version"] == JSON_SCHEMA_VERSION
    assert [c["name"] for c in doc["certificates"]] == sorted(NAMES)
    lines = out.splitlines()
    assert len(lines) == 2 + len(NAMES)  # head, one object per lineage, the end
    for line, entry in zip(lines[1:-1], doc["certificates"], strict=True):
        assert json.loads(line.rstrip(",")) == entry


def test_json_entries_report_facts_and_problems(tree: Path) -> None:
    _, out, _ = certificates(tree, "--json")
    by_name = {c["name"]: c for c in json.loads(out)["certificates"]}
    good = by_name["a.test"]
    assert good["valid"] and good["names"] == ["a.test"]
    assert good["key_type"] == "ECDSA secp256r1" and good["issuer"] == "fixture issuer"
    assert 89 < good["days_left"] <= 90
    assert by_name["mismatched.test"]["problems"] == ["private key does not match the certificate"]
    assert by_name["broken.test"]["problems"] == ["cert.pem is not a readable certificate"]


def test_text_lists_every_lineage_in_order(tree: Path) -> None:
    code, out, err = certificates(tree)
    assert code == 0, err
    assert out.startswith("Found the following certificates:\n")
    listed = [line.split(": ", 1)[1] for line in out.splitlines() if "Certificate Name" in line]
    assert listed == sorted(NAMES)
    assert "INVALID: private key does not match the certificate" in out


def test_filters_and_an_empty_store_still_give_valid_json(tree: Path, tmp_path: Path) -> None:
    _, out, _ = certificates(tree, "--json", "-d", "b.test")
    assert [c["name"] for c in json.loads(out)["certificates"]] == ["b.test"]
    (tmp_path / "none.ini").write_text("")
    code, out, err = certificates(tmp_path, "--json")
    assert code == 0, err
    assert json.loads(out) == {"schema_version": JSON_SCHEMA_VERSION, "certificates": []}
    _, text, _ = certificates(tmp_path)
    assert text.strip() == "No certificates found."


def test_an_unlistable_store_prints_no_partial_document(tmp_path: Path) -> None:
    (tmp_path / "none.ini").write_text("")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "renewal").write_text("a file, not a directory")
    code, out, _ = certificates(tmp_path, "--json")
    assert code != 0
    assert out == ""
