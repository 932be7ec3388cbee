"""The bench's pure parts: provenance (may a run write docs/?), the results file read back,
the charts drawn from a small synthetic results file, and the checks behind "measured as
installed" (wheel content hash, modules compiled from source)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest

from tests.bench import charts, provenance
from tests.bench.measure import Sample, Stat
from tests.bench.ours import compiled_from_source, wheel_digest
from tests.bench.provenance import Provenance
from tests.bench.report import BEGIN, END, write_doc
from tests.bench.results import Results, read, write
from tests.bench.run import chart_lines, charts_only, render_block
from tests.bench.scenarios import Config, Row

SVG = "{http://www.w3.org/2000/svg}svg"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test"}
    proc = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs" / "bench").mkdir(parents=True)
    (root / "code.py").write_text("x = 1\n")
    (root / "docs" / "performance.md").write_text("# Performance\n")
    (root / ".gitignore").write_text("/ignored/\n")
    _git(root.parent, "init", "-q", str(root))
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "the measured commit")
    return root


def test_a_clean_tree_names_its_full_commit_and_may_write_docs(repo: Path) -> None:
    prov = provenance.read(repo)
    assert prov == Provenance(_git(repo, "rev-parse", "HEAD"), "the measured commit", ())
    assert len(prov.commit) == 40 and not prov.dirty
    assert provenance.refusal(prov, allowed=False) is None
    assert "**" not in prov.describe() and prov.commit in prov.describe()


def test_the_bench_outputs_and_ignored_files_do_not_make_the_tree_dirty(repo: Path) -> None:
    (repo / "docs" / "performance.md").write_text("# Performance\n\nnew block\n")
    (repo / "docs" / "bench" / "results.json").write_text("{}")
    (repo / "docs" / "perf-rtt.svg").write_text("<svg/>")
    (repo / "ignored").mkdir()
    (repo / "ignored" / "x").write_text("x")
    assert not provenance.read(repo).dirty


@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r / "code.py").write_text("x = 2\n"),  # modified
        lambda r: (r / "new_module.py").write_text(""),  # untracked: the wheel would have it
        lambda r: (r / "code.py").unlink(),  # deleted
        lambda r: _git(r, "mv", "code.py", "renamed.py"),  # staged rename
    ],
)
def test_a_dirty_tree_is_refused_in_one_line_unless_allowed(repo: Path, change: object) -> None:
    change(repo)  # type: ignore[operator]
    prov = provenance.read(repo)
    assert prov.dirty
    line = provenance.refusal(prov, allowed=False)
    assert line is not None and "\n" not in line
    assert f"{len(prov.changed)} uncommitted change(s)" in line and "BENCH_ALLOW_DIRTY=1" in line
    assert provenance.refusal(prov, allowed=True) is None
    assert "**measured from a dirty tree" in prov.describe()


def test_a_rename_names_both_paths() -> None:
    porcelain = "R  new.py\0old.py\0 M docs/performance.md\0?? docs/bench/fleet.json\0?? x.py\0"
    assert provenance.changed_paths(porcelain) == ("new.py", "old.py", "x.py")


@pytest.mark.parametrize(("value", "allowed"), [("", False), ("0", False), ("1", True)])
def test_bench_allow_dirty(value: str, allowed: bool) -> None:
    assert provenance.allow_dirty({"BENCH_ALLOW_DIRTY": value}) is allowed
    assert provenance.allow_dirty({}) is False


def test_a_tree_that_changed_during_the_run_is_not_written() -> None:
    before = Provenance(SHA, "s")
    assert provenance.changed_during_run(before, Provenance(SHA, "s")) is None
    assert provenance.changed_during_run(before, Provenance(SHA, "s", ("code.py",)))
    assert provenance.changed_during_run(before, Provenance("f" * 40, "other"))


def _stat(*walls: float, rss_kb: int = 40_000) -> Stat:
    return Stat([Sample(w, rss_kb + i, 9) for i, w in enumerate(walls)], warmup=1)


def _synthetic_rows(rtt: bool = True) -> list[Row]:
    rows = [Row("startup--version", "start-up", {"ours": _stat(0.04), "certbot": _stat(0.18)})]
    for n, ours, certbot in ((10, 0.12, 0.22), (100, 0.11, 0.42), (1000, 0.13, 2.5)):
        cold = _stat(ours * 1.5)
        noop = {"ours": _stat(ours, ours * 1.1), "ours-cold": cold, "certbot": _stat(certbot)}
        rows.append(Row(f"noop-{n}", f"no-op renew, {n}", noop))
        certs = {"ours": _stat(ours * 2), "certbot": _stat(certbot / 2)}
        rows.append(Row(f"certs-{n}", f"certificates, {n}", certs))
    if rtt:
        for ms in (0, 50, 200):
            stats = {"ours": _stat(0.2 + 0.009 * ms), "certbot": _stat(2.7 + 0.02 * ms)}
            stats["acme-tiny"] = _stat(0.14 + 0.017 * ms)
            rows.append(Row(f"rtt{ms}-issue-1", f"issue 1 name at {ms} ms", stats))
    return rows


def _results(rows: list[Row], prov: Provenance | None = None) -> Results:
    return Results(
        prov or Provenance(SHA, "the measured commit"),
        "2026-12-06T02:00:00+00:00",
        {"CPU": "test CPU, 2 cores"},
        {"start": 0.5, "end": 1.0, "max": 1.5},
        quick=False,
        elapsed_s=700.0,
        rows=rows,
        wheel_sha256="ab" * 32,
        extra={"note": "kept"},
    )


def test_results_json_round_trip_keeps_every_sample(tmp_path: Path) -> None:
    path = tmp_path / "bench" / "results.json"
    dirty = Provenance(SHA, "the measured commit", ("code.py",))
    written = _results(_synthetic_rows(), dirty)
    write(path, written)
    back = read(path)
    assert back == written
    noop = next(r for r in back.rows if r.key == "noop-10").stats["ours"]
    assert [(s.wall, s.rss_kb, s.requests) for s in noop.samples] == [
        (0.12, 40_000, 9),
        (0.12 * 1.1, 40_001, 9),
    ]
    raw = path.read_text()
    assert f'"commit": "{SHA}"' in raw and '"dirty": true' in raw and '"rss_kb"' in raw


def test_results_of_another_format_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"format": 0, "rows": []}')
    with pytest.raises(ValueError, match="format 0"):
        read(path)


def _svg_texts(path: Path) -> list[str]:
    root = ElementTree.parse(path).getroot()  # noqa: S314 (our own file); raises if invalid
    assert root.tag == SVG
    return [el.text or "" for el in root.iter("{http://www.w3.org/2000/svg}text")]


def test_charts_are_drawn_from_a_results_file_as_valid_svg(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    write(results, _results(_synthetic_rows()))
    assert charts_only(results) == 0
    per_lineage = _svg_texts(tmp_path / charts.PER_LINEAGE)
    for label in ("certbot-like", "certbot-like, first run (cold)", "certbot 5.8"):
        assert label in per_lineage
    assert "lineages (N)" in per_lineage
    rtt = _svg_texts(tmp_path / charts.RTT)
    assert {"certbot-like", "certbot 5.8", "acme-tiny", "target (9) x RTT + 0.3 s"} <= set(rtt)
    first = (tmp_path / charts.PER_LINEAGE).read_bytes()
    charts_only(results)
    assert (tmp_path / charts.PER_LINEAGE).read_bytes() == first, "SVG output not reproducible"
    assert b"<dc:date>" not in first


def test_without_rtt_rows_the_rtt_chart_is_skipped_and_a_stale_one_removed(
    tmp_path: Path,
) -> None:
    stale = tmp_path / charts.RTT
    stale.write_text("<svg/>")
    notes = charts.draw_all(_synthetic_rows(rtt=False), tmp_path)
    assert not stale.exists()
    assert notes == [
        f"drew {tmp_path / charts.PER_LINEAGE}",
        "perf-rtt.svg not drawn: no `rtt*-issue-*` rows in this run",
    ]
    assert chart_lines(notes) == [
        "![cost per lineage](perf-per-lineage.svg)",
        "",
        "*perf-rtt.svg not drawn: no `rtt*-issue-*` rows in this run.*",
    ]


def test_series_per_lineage_and_per_rtt() -> None:
    rows = _synthetic_rows()
    noop = charts.per_lineage(rows, "noop")
    assert noop["certbot"] == [(10, 22.0), (100, 4.2), (1000, 2.5)]
    assert set(noop) == {"ours", "ours-cold", "certbot"}
    assert set(charts.per_lineage(rows, "certs")) == {"ours", "certbot"}
    by_rtt = charts.rtt(rows)
    assert list(by_rtt) == [1]
    assert [x for x, _ in by_rtt[1]["acme-tiny"]] == [0, 50, 200]


def _zip(path: Path, files: dict[str, bytes], date: tuple[int, ...]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=date), data)  # type: ignore[arg-type]
    return path


def test_wheel_digest_depends_on_content_not_timestamps(tmp_path: Path) -> None:
    files = {"certbot_like/__init__.py": b"x = 1\n", "certbot_like-0.1.dist-info/RECORD": b"r"}
    a = _zip(tmp_path / "a.whl", files, (2020, 1, 1, 0, 0, 0))
    b = _zip(tmp_path / "b.whl", dict(reversed(files.items())), (2026, 12, 6, 1, 2, 4))
    changed = {**files, "certbot_like/__init__.py": b"x = 2\n"}
    c = _zip(tmp_path / "c.whl", changed, (2020, 1, 1, 0, 0, 0))
    assert wheel_digest(a) == wheel_digest(b) != wheel_digest(c)


def test_python_v_tells_a_module_compiled_from_source(tmp_path: Path) -> None:
    (tmp_path / "benchmod.py").write_text("VALUE = 1\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(tmp_path)}
    env.pop("PYTHONPYCACHEPREFIX", None)

    def verbose_run() -> str:
        argv = [sys.executable, "-v", "-c", "import benchmod"]
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stderr

    assert str(tmp_path / "benchmod.py") in compiled_from_source(verbose_run())
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tmp_path)], check=True)
    assert str(tmp_path / "benchmod.py") not in compiled_from_source(verbose_run())


@pytest.mark.parametrize("dirty", [False, True])
def test_the_generated_block_names_the_commit_and_shows_the_charts(
    tmp_path: Path, dirty: bool
) -> None:
    prov = Provenance(SHA, "the measured commit", ("code.py",) if dirty else ())
    res = _results(_synthetic_rows(), prov)
    bench = SimpleNamespace(cfg=Config.make(quick=False), rows=res.rows)
    notes = charts.draw_all(res.rows, tmp_path)
    block = render_block(res, bench, "0.50 at start", chart_lines(notes))  # type: ignore[arg-type]
    doc = tmp_path / "performance.md"
    doc.write_text(f"# P\n\nbefore\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    write_doc(doc, block)
    text = doc.read_text()
    assert text.startswith("# P\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert f"| code measured | certbot-like at commit `{SHA}` (the measured commit)" in text
    assert "![cost per lineage](perf-per-lineage.svg)" in text
    assert "![issuance time vs RTT](perf-rtt.svg)" in text
    assert "| date | 2026-12-06 02:00 UTC |" in text
    bold = "**Measured from a dirty tree (BENCH_ALLOW_DIRTY=1).**"
    assert (bold in text) is dirty
    assert ("**measured from a dirty tree: 1 uncommitted change(s)" in text) is dirty


def test_a_commit_subject_with_a_pipe_does_not_break_the_table_cell() -> None:
    assert "(split a \\| b)" in Provenance(SHA, "split a | b").describe()
