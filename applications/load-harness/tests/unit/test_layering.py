"""The package layout holds: no import cycle between the packages of `load_harness`, and no module imported only
for what importing it does (a registration on import hides the wiring from whoever reads the caller)."""

from __future__ import annotations

import ast
from pathlib import Path

import load_harness

SOURCE = Path(load_harness.__file__).parent


def _unit(module: str) -> str:
    """The package a module belongs to (`driver`, `runs`, …); a top-level module is its own unit."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _type_only(tree: ast.Module) -> set[ast.AST]:
    """Imports under `if TYPE_CHECKING:`: annotations only, never executed, so no cycle at run time."""
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(inner for statement in node.body for inner in ast.walk(statement))
    return guarded


def _imports(path: Path) -> set[str]:
    """Every load_harness module this file imports, at the top or inside a function (a lazy import is still a
    dependency)."""
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    type_only = _type_only(tree)
    for node in ast.walk(tree):
        if node in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "load_harness" or name.startswith("load_harness.")}


def package_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue  # Alembic loads these itself
        module = ".".join(("load_harness", *path.relative_to(root).with_suffix("").parts))
        unit = _unit(module)
        edges = graph.setdefault(unit, set())
        edges.update(_unit(name) for name in _imports(path) if name != "load_harness" and _unit(name) != unit)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    assert {"driver", "runs", "api", "dashboard", "store", "security"} <= set(graph)
    assert cycles(graph) == []


def test_the_check_finds_a_cycle(tmp_path: Path) -> None:
    """The broken fixture: two packages importing each other are reported."""
    for name, other in (("alpha", "beta"), ("beta", "alpha")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"from load_harness.{other} import thing\n")
    (tmp_path / "gamma.py").write_text("from load_harness.alpha import thing\n")
    assert cycles(package_graph(tmp_path)) == [["alpha", "beta"]]


def test_the_driver_engine_imports_neither_flask_nor_the_store() -> None:
    for path in (SOURCE / "driver").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        offending = {
            n for n in names if n.split(".")[0] in ("flask", "sqlalchemy") or n.startswith("load_harness.store")
        }
        assert not offending, (path.name, offending)


def test_no_module_is_imported_for_a_side_effect() -> None:
    """An import kept only for what it does on import needs a `noqa: F401` past ruff; none may exist."""
    marked = [
        f"{path.relative_to(SOURCE)}:{number}"
        for path in SOURCE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "noqa: F401" in line
    ]
    assert marked == []
