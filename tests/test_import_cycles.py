"""No import cycles in `pipelines/`, between modules or between packages (issue 18).

The graph holds the module-level imports only (`import pipelines.x`, `from pipelines.x
import y`, `from . import y`): an import inside a function, or under `if TYPE_CHECKING:`,
runs after both modules are loaded and is allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipelines"

# Imports allowed to close a cycle: none since issue 18 broke the last ones. An entry is
# an edge (importer, imported) left out of both graphs below; any cycle fails, naming it.
ALLOWED_EDGES: frozenset[tuple[str, str]] = frozenset()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements run when the module loads (not in functions or classes' methods,
    not under `if TYPE_CHECKING:`)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level(block)
            for handler in node.handlers:
                yield from _module_level(handler.body)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _module_level(node.body)


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_graph() -> dict[str, set[str]]:
    """Module -> the `pipelines` modules it imports at module level."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _module_level(tree.body):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(name, is_package, node)
                # `from pipelines.x import y`: y is a submodule or a name in x.
                targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in files]
                targets = targets or [base]
            for target in targets:
                while target and target not in files:  # `import pipelines.x.y` -> its module
                    target = target.rpartition(".")[0]
                allowed = (name, target) in ALLOWED_EDGES
                if target.startswith("pipelines") and target != name and not allowed:
                    graph[name].add(target)
    return graph


def package_of(module: str) -> str:
    """`pipelines.budget.plan` -> `pipelines.budget`; top-level modules are their own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = packages.setdefault(package_of(module), set())
        edges.update(package_of(t) for t in targets if package_of(t) != package_of(module))
    return packages


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one node (Tarjan), the
    shortest found through its smallest member."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_shortest_cycle(graph, c) for c in components]


def _shortest_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, set()) & component):
                if target == start:
                    return paths[node]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    return sorted(component)


def cycle_text(cycle: list[str]) -> str:
    return " -> ".join([*cycle, cycle[0]])


def test_no_module_import_cycles() -> None:
    found = sorted(cycle_text(c) for c in cycles(import_graph()))
    assert not found, "module import cycles:\n" + "\n".join(found)


def test_no_package_import_cycles() -> None:
    found = sorted(cycle_text(c) for c in cycles(package_graph(import_graph())))
    assert not found, "package import cycles:\n" + "\n".join(found)


def test_the_graph_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [cycle_text(c) for c in cycles(graph)] == ["a -> b -> c -> a"]


def test_the_graph_reads_module_level_imports_only() -> None:
    graph = import_graph()
    # render -> report is a real import; report never imports render (issue 18).
    assert "pipelines.budget.report" in graph["pipelines.budget.render"]
    assert "pipelines.budget.render" not in graph["pipelines.budget.report"]
    assert not any(package_of(t) == "pipelines.sync" for t in graph["pipelines.budget.routes"])


def test_allowed_edges_still_exist() -> None:
    """An allowed edge that is gone (its cycle broken) is taken off the list."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    for importer, imported in ALLOWED_EDGES:
        source = files[importer].read_text(encoding="utf-8")
        assert imported in source, f"{importer} no longer imports {imported}: unlist it"
