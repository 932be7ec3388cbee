"""Which code a bench run measured, and whether it may write the documents.

A run that writes ``docs/`` names the full commit it measured. With uncommitted changes the
numbers belong to no commit, so such a run refuses to write the documents (one line, before
anything is measured) unless ``BENCH_ALLOW_DIRTY=1``; then the generated block says so in
bold. The bench's own outputs (the generated block, ``docs/bench/``, the charts) do not
count as changes: they are what a run writes, not what it measures.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# What the bench writes itself (paths relative to the repository, "/" ends a directory).
OUTPUTS = ("docs/performance.md", "docs/bench/", "docs/perf-per-lineage.svg", "docs/perf-rtt.svg")
ALLOW_DIRTY = "BENCH_ALLOW_DIRTY"


@dataclass(frozen=True)
class Provenance:
    """The commit checked out and the paths that differ from it (bench outputs left out)."""

    commit: str  # full hash, or "unknown" outside a git checkout
    subject: str
    changed: tuple[str, ...] = ()

    @property
    def dirty(self) -> bool:
        return bool(self.changed) or self.commit == "unknown"

    def describe(self) -> str:
        """One line for the generated block: the commit, and in bold when the tree was dirty."""
        subject = self.subject.replace("|", "\\|")  # a table cell
        line = f"certbot-like at commit `{self.commit}` ({subject})"
        if self.dirty:
            line += (
                f" — **measured from a dirty tree: {len(self.changed)} uncommitted change(s) "
                f"on top of this commit ({ALLOW_DIRTY}=1); these figures belong to no commit**"
            )
        return line

    def to_json(self) -> dict[str, object]:
        return {"commit": self.commit, "subject": self.subject, "changed": list(self.changed)}


def is_output(path: str) -> bool:
    return any(path == o or (o.endswith("/") and path.startswith(o)) for o in OUTPUTS)


def changed_paths(porcelain: str) -> tuple[str, ...]:
    """Paths from ``git status --porcelain -z`` output, without the bench's own outputs.

    A rename or copy entry names both paths (the old one in the next NUL-separated field).
    """
    fields = porcelain.split("\0")
    paths: list[str] = []
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # the source of a rename or copy follows
            paths.append(fields[i])
            i += 1
    return tuple(p for p in paths if not is_output(p))


def read(root: Path) -> Provenance:
    """The provenance of *root*'s working tree (``unknown`` when git cannot tell)."""

    def git(*args: str) -> str | None:
        proc = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
        return proc.stdout if proc.returncode == 0 else None

    commit = (git("rev-parse", "HEAD") or "").strip()
    status = git("status", "--porcelain", "-z", "--untracked-files=all")
    if not commit or status is None:
        return Provenance("unknown", "not a git checkout")
    subject = (git("log", "-1", "--format=%s", commit) or "").strip()
    return Provenance(commit, subject, changed_paths(status))


def allow_dirty(env: Mapping[str, str]) -> bool:
    return env.get(ALLOW_DIRTY, "") not in ("", "0")


def refusal(prov: Provenance, allowed: bool) -> str | None:
    """Why the documents may not be written (one line), or None when they may."""
    if not prov.dirty or allowed:
        return None
    first = prov.changed[0] if prov.changed else "no commit checked out"
    return (
        f"Refusing to write docs/: the tree has {len(prov.changed)} uncommitted change(s) "
        f"(first: {first}); commit them, run with --no-doc, or set {ALLOW_DIRTY}=1 to mark "
        "the figures as measured from a dirty tree."
    )


def changed_during_run(before: Provenance, after: Provenance) -> str | None:
    """Why the figures no longer describe *before*'s tree (one line), or None."""
    if before == after:
        return None
    return (
        f"Not writing docs/: the tree changed while the bench ran ({before.commit[:12]} with "
        f"{len(before.changed)} change(s) -> {after.commit[:12]} with {len(after.changed)})."
    )
