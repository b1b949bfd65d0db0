"""The package structure, computed from the imports of ``src/lorafox``: no import cycle between
top-level packages, and the use cases and the domain never import an adapter."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "lorafox"

ADAPTERS = frozenset({"api", "bus", "store", "cli", "service", "bootstrap", "console", "__main__"})
"""Packages that speak a protocol or hold the wiring: HTTP, MQTT, SQL, the command line."""


def _package_imports() -> dict[str, dict[str, set[str]]]:
    """Top-level package -> the top-level packages it imports -> the files that do."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE)
        package = relative.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "lorafox" and len(parts) > 1 and parts[1] != package:
                    graph[package][parts[1]].add(str(relative))
    return graph


def _cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    graph = _package_imports()
    assert "store" in graph["service"]  # the wiring imports the SQL adapter
    assert "domain" in graph["devices"]


def test_no_cycle_between_top_level_packages() -> None:
    graph = _package_imports()
    cycles = _cycles(graph)
    details = [
        f"{a} -> {b}: {sorted(graph[a][b])}"
        for cycle in cycles
        for a in cycle
        for b in cycle
        if b in graph.get(a, {})
    ]
    assert cycles == [], "\n".join(details)


def test_use_cases_and_domain_import_no_adapter() -> None:
    graph = _package_imports()
    wrong = {
        f"{package} -> {target}": sorted(files)
        for package, targets in graph.items()
        if package not in ADAPTERS
        for target, files in targets.items()
        if target in ADAPTERS
    }
    assert wrong == {}


def test_routes_reach_no_store() -> None:
    """The HTTP adapter and the console call use cases, which check the caller; they never
    hold a store."""
    from lorafox.api.context import ApiContext

    assert not any("Store" in str(kind) for kind in ApiContext.__annotations__.values())
    for path in [*(SOURCE / "api").glob("*.py"), *(SOURCE / "console").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("lorafox.store"), path.name
            if isinstance(node, ast.Attribute) and node.attr == "store":
                raise AssertionError(f"{path.name}:{node.lineno} reaches a store")
