"""The layering rules of docs/architecture.md, read off the source (ast), so a change that
breaks one fails here instead of in review."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "certbot_like"
# what only storage/ may know: the layout's directories and the files in them
LAYOUT_MEMBERS = {
    "accounts_root",
    "accounts_dir",
    "archive_root",
    "archive_dir",
    "live_root",
    "live_dir",
    "renewal_dir",
    "renewal_conf",
    "hooks_dir",
    "lock_dir",
    "state_dir",
}
LAYOUT_FILES = ("private_key.json", "regr.json", "renewal-state", "privkey1.pem", ".conf")


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(), str(path))


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def _imports(name: str, tree: ast.Module) -> set[str]:
    """Every module *name* imports at run time (module level or inside functions)."""
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                parts = name.split(".")[: -node.level]
                base = ".".join([*parts, node.module])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def test_services_import_neither_josepy_nor_acme() -> None:
    offenders = {
        name: sorted(i for i in _imports(name, tree) if i.split(".")[0] in ("josepy", "acme"))
        for name, tree in _modules()
        if name.startswith("certbot_like.services")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_module_outside_storage_knows_the_layout() -> None:
    offenders: list[str] = []
    for name, tree in _modules():
        if name.startswith("certbot_like.storage"):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in LAYOUT_MEMBERS
                and ast.unparse(node.value).endswith("layout")
            ):
                offenders.append(f"{name}:{node.lineno} {ast.unparse(node)}")
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and any(node.value.endswith(f) for f in LAYOUT_FILES)
            ):
                offenders.append(f"{name}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_the_package_has_no_import_cycle() -> None:
    modules = dict(_modules())
    graph = {
        name: {i for i in _imports(name, tree) if i in modules and i != name}
        for name, tree in modules.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    package_inits = {n for n in modules if (PACKAGE.parent / n.replace(".", "/")).is_dir()}
    real = [c for c in cycles if not set(c) & package_inits]
    assert real == []


def test_the_rules_catch_what_they_are_for() -> None:
    """The checks above are not vacuous: each finds its violation in a made-up module."""
    bad = ast.parse("import josepy\nx = run.layout.live_dir('a')\ny = 'renewal/a.conf'\n")
    assert "josepy" in _imports("certbot_like.services.bad", bad)
    attrs = [n for n in ast.walk(bad) if isinstance(n, ast.Attribute) and n.attr in LAYOUT_MEMBERS]
    assert attrs and ast.unparse(attrs[0].value).endswith("layout")


def test_every_package_ships_in_the_wheel() -> None:
    """setup.cfg lists packages by hand: a new one missing there works in the editable
    install and breaks in the wheel."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found - listed == set()


def test_the_notify_choices_of_the_cli_are_the_services() -> None:
    from certbot_like.cli.monitoring import NOTIFY_ON as CLI_CHOICES
    from certbot_like.services.notify import NOTIFY_ON

    assert CLI_CHOICES == NOTIFY_ON
