"""The diary package reads top-down: CLI, then queries, then the store facade and its parts,
then the services (artifacts, environment, schema), then models and values. No module imports
one that imports it back, counting imports inside functions and for type checking too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import diary

ROOT = Path(diary.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Every diary module ``path`` imports, wherever the import statement is."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                nested = f"{node.module}.{alias.name}"
                target = nested if nested in modules else node.module
                if target in modules:
                    yield target
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in modules)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: set(_imports(path, modules)) - {name} for name, path in modules.items()}


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path of imports from ``start`` back to itself, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        name, path = stack.pop()
        for target in graph[name]:
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def test_the_graph_sees_lazy_and_type_checking_imports() -> None:
    graph = _graph()
    assert "diary.store" in graph["diary.query.search"]  # under TYPE_CHECKING
    assert "diary.artifacts.ownership" in graph["diary.store.artifacts"]  # inside a method


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _graph()
    cycles = [" -> ".join(c) for name in sorted(graph) if (c := _cycle_from(name, graph))]
    assert cycles == []


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("diary.artifacts", "diary.store"),
        ("diary.store", "diary.query"),
        ("diary.store", "diary.cli"),
        ("diary.query", "diary.cli"),
        ("diary.artifacts", "diary.cli"),
    ],
)
def test_a_lower_layer_never_imports_a_higher_one(lower: str, upper: str) -> None:
    graph = _graph()
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name == lower or name.startswith(f"{lower}.")
        for target in targets
        if target == upper or target.startswith(f"{upper}.")
    )
    assert wrong == []
