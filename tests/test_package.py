"""The package's structure: no import cycles, imports flow one way (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tfgan_apps"


def _imports() -> dict[str, set[str]]:
    """module -> the package modules it imports, at top level or inside functions."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found |= {n for n in names if n.startswith("tfgan_apps")}
        graph[module] = found
    # keep modules only (``from tfgan_apps.x import y`` names y, a module or an attribute)
    return {m: {i for i in imports if i in graph and i != m} for m, imports in graph.items()}


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "tfgan_apps"


def test_no_import_cycles():
    graph = _imports()
    # the root package imports everything to re-export it: leave it out of the walk
    graph = {m: {i for i in imports if i != "tfgan_apps"} for m, imports in graph.items()}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for child in sorted(graph[module]):
            if state.get(child) == 1:
                cycle = path[path.index(child):] + [child] if child in path else [module, child]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if child not in state:
                visit(child, path + [child])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_imports_flow_one_way():
    graph = _imports()
    leaves = {"tfgan_apps.config": {"tfgan_apps.errors"}, "tfgan_apps.errors": set()}
    for module, allowed in leaves.items():
        assert graph[module] <= allowed, (module, graph[module])
    for module, imports in graph.items():
        assert "tfgan_apps.cli" not in imports or module == "tfgan_apps.cli", module
        layer = _layer(module)
        pure = {"networks", "layers", "augment", "losses"}
        if layer in pure:  # know nothing of training
            assert {_layer(i) for i in imports} <= {"errors", "config", *pure}, (
                module, imports)
        if layer in ("models", "data", "callbacks", "training", "runs", "export"):
            assert not {_layer(i) for i in imports} & {"apps", "quickstart", "cli"}, (
                module, imports)
