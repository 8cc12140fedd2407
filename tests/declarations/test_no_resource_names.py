"""After issue 18 no module under pipelines/ except the simulator names a resource: what a
resource is, is said once, in its declaration (config/resources/). This test reads every
module's string literals (f-string parts and SQL text included; docstrings and comments,
which may use a resource as an example, are not code) and fails naming the module, the line
and the word for each table or route name of a declared resource it finds."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pipelines.declarations import load_declarations
from pipelines.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "pipelines"
EXEMPT = (PACKAGE / "simulator",)
# Modules still naming a resource while issue 18's refactor lands, each with the names it
# uses. This list only shrinks.
NOT_YET: dict[str, set[str]] = {}


def _names() -> set[str]:
    """Every table name and every route's first path segment of the shipped declarations."""
    declarations = load_declarations()
    names: set[str] = set()
    for declared in declarations.resources.values():
        names.add(declared.name)
        names.update(child.name for child in declared.table.children)
        routes = declared.spec.routes
        for route in (routes.list, routes.detail, routes.batch):
            if route is not None:
                names.add(route.path.split("/")[0].lower())
    return names


def _docstrings(tree: ast.Module) -> set[int]:
    """Ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _offences(path: Path, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    offences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            for match in pattern.finditer(node.value):
                offences.append((node.lineno, match.group(0)))
    return offences


def test_no_module_outside_the_simulator_names_a_resource() -> None:
    names = _names()
    pattern = re.compile(
        r"(?<![A-Za-z0-9])(" + "|".join(sorted(names, key=len)[::-1]) + r")(?![a-z0-9])"
    )
    found: dict[str, set[str]] = {}
    where: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if any(path.is_relative_to(exempt) for exempt in EXEMPT):
            continue
        module = path.relative_to(PROJECT_ROOT).as_posix()
        for line, word in _offences(path, pattern):
            found.setdefault(module, set()).add(word)
            if word not in NOT_YET.get(module, set()):
                where.append(f"{module}:{line}: {word!r}")
    assert not where, "resource names outside the declarations:\n" + "\n".join(where)
    stale = {
        m: sorted(w - found.get(m, set())) for m, w in NOT_YET.items() if w - found.get(m, set())
    }
    assert not stale, f"NOT_YET lists names these modules no longer use (remove them): {stale}"


def test_the_check_sees_a_resource_name(tmp_path: Path) -> None:
    """The check itself can fail: a literal is found, its docstring is not."""
    module = tmp_path / "m.py"
    module.write_text('"""Syncs kohteet."""\nTABLE = "tampuuri.kohteet"\n', encoding="utf-8")
    pattern = re.compile(r"(?<![A-Za-z0-9])(kohteet)(?![a-z0-9])")
    assert _offences(module, pattern) == [(2, "kohteet")]
