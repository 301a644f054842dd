"""The house rules, checked on the source: no import cycle between packages (function-local imports
included, so a cycle cannot hide inside a function), the layers import only downwards, and SQL is
written only in the database, query/ingestion service and demo-loader layers.

Why a test: these rules are easy to break by accident in a one-line import, and an import cycle
between packages is what made the app, every page and the live loop reach each other before.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("dashboard", "pages", "components")

# A unit is a package under dashboard/ (`dashboard.cache`), a module directly in it
# (`dashboard.runtime`), or a top-level package (`pages`, `components`).


def unit_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "dashboard" and len(parts) > 1 else parts[0]


def module_of(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> Iterator[tuple[str, ast.Module]]:
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            yield module_of(path), ast.parse(path.read_text(), filename=str(path))


def imports(tree: ast.Module) -> Iterator[tuple[str, list[str]]]:
    """(imported module, imported names) of every import statement, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]


def unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, tree in sources():
        for target, _ in imports(tree):
            if target.split(".")[0] in ROOTS and unit_of(target) != unit_of(module):
                graph[unit_of(module)].add(unit_of(target))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
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
    found = cycles(unit_graph())
    assert found == [], f"import cycles between packages: {found}"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Each layer with the units it must never import (layers above it, or beside it).
FORBIDDEN = {
    "dashboard.domain": {
        "dashboard.db", "dashboard.services", "dashboard.schemas", "dashboard.cache", "dashboard.auth",
        "dashboard.api", "dashboard.web", "dashboard.runtime", "dashboard.app", "pages", "components",
    },
    "dashboard.db": {
        "dashboard.services", "dashboard.cache", "dashboard.auth", "dashboard.api", "dashboard.web",
        "dashboard.runtime", "dashboard.app", "pages", "components",
    },
    "dashboard.services": {
        "dashboard.cache", "dashboard.auth", "dashboard.api", "dashboard.web", "dashboard.runtime",
        "dashboard.app", "pages", "components",
    },
    "dashboard.cache": {
        "dashboard.auth", "dashboard.api", "dashboard.web", "dashboard.runtime", "dashboard.app",
        "pages", "components",
    },
    "dashboard.auth": {
        "dashboard.api", "dashboard.web", "dashboard.runtime", "dashboard.app", "pages", "components",
    },
    "dashboard.api": {"dashboard.web", "dashboard.app", "pages", "components"},
    "components": {"pages", "dashboard.app", "dashboard.api"},
    "pages": {"dashboard.app", "dashboard.api"},
}  # fmt: skip


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downwards(layer: str) -> None:
    wrong = sorted(unit_graph().get(layer, set()) & FORBIDDEN[layer])
    assert wrong == [], f"{layer} must not import {wrong}"


# Where SQL may be written: the database layer, the services (queries, ingestion, users, audit...)
# and the demo loader (seed and simulator write and read their data set in bulk, as a bridge would).
SQL_UNITS = {"dashboard.db", "dashboard.services", "dashboard.demo"}
SQL_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite")


def test_sql_only_in_the_database_service_and_demo_layers() -> None:
    offenders = []
    for module, tree in sources():
        if unit_of(module) in SQL_UNITS:
            continue
        for target, names in imports(tree):
            if target.split(".")[0] not in SQL_MODULES:
                continue
            # Exception types may be named anywhere (to map an outage to 503); statements may not.
            if target in ("sqlalchemy", "sqlalchemy.exc") and set(names) <= {"exc", "SQLAlchemyError"}:
                continue
            offenders.append(f"{module}: {target} {names}")
    assert offenders == []
