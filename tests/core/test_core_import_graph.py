"""No import circle in the code: every import counts, also those inside functions or under TYPE_CHECKING.

Why every import: a circle hidden by a function-level or TYPE_CHECKING import still means two modules
that cannot be understood (or moved) one without the other — the procedure/evaluation circle of
issue 21 was hidden exactly so.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gasforecast", "service")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The project modules one import statement loads (a `from package import submodule` names the submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in known]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # relative: resolve against this module's package
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    targets = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in known]
    if source in known and len(targets) < len(node.names):
        targets.append(source)
    return targets


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        graph[name] = {target for node in ast.walk(tree) for target in _imported(node, name, is_package, known)
                       if target != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_the_code_has_no_import_circle():
    assert circles(import_graph()) == []


def test_the_check_finds_a_circle_hidden_in_a_function():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from gasforecast.forecasting.evaluation import evaluate_nested\n")
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    known = {"gasforecast.forecasting.evaluation"}
    assert _imported(node, "gasforecast.forecasting.procedure", False, known) == ["gasforecast.forecasting.evaluation"]


def test_the_forecasting_procedure_sits_above_the_nested_evaluation():
    graph = import_graph()
    assert "gasforecast.forecasting.evaluation" in graph["gasforecast.forecasting.procedure"]
    assert "gasforecast.forecasting.procedure" not in graph["gasforecast.forecasting.evaluation"]


# The core's parts from the bottom up (docs/architecture.md, "The code, by part"): a module may import
# its own part and the parts below it, never one above.
LAYERS = ("platform", "ingestion", "publication", "forecasting", "scoring", "training", "commands")


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "gasforecast" or len(parts) < 3 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in graph.items():
        for target in targets:
            below, above = _layer(module), _layer(target)
            if below is not None and above is not None and above > below:
                found.append(f"{module} -> {target}")
    return sorted(found)


def test_no_part_of_the_core_imports_a_part_above_it():
    assert upward_imports(import_graph()) == []


def test_the_layer_check_finds_an_upward_import():
    graph = {"gasforecast.platform.config": {"gasforecast.ingestion.revisions"},
             "gasforecast.ingestion.ingest": {"gasforecast.platform.config"}}
    assert upward_imports(graph) == ["gasforecast.platform.config -> gasforecast.ingestion.revisions"]
