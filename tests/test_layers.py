"""The package's structure (issue 12): no import cycles inside portal/, and the layers that must not know
each other don't. Read from the source's import statements (those that run: not the ones under
TYPE_CHECKING, which only name types), so a function-level import that dodges a cycle counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / "portal"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PORTAL.rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported_names(tree: ast.AST) -> set[str]:
    """Every module name imported by statements that run (`from a import b` names a.b when b is a module)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    return {name: {imported for imported in _imported_names(ast.parse(path.read_text())) if imported in MODULES
                   and imported != name and not name.startswith(imported + ".")}
            for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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
            connect(node)
    return found


def test_the_package_has_no_import_cycles():
    graph = _graph()
    # The app factory imports every part of the app inside create_app, and jobs need create_app: the
    # package's own __init__ is the one module allowed to sit above everything it imports.
    graph.pop("portal")
    for imports in graph.values():
        imports.discard("portal")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _reaches(graph: dict[str, set[str]], start: str, prefix: str) -> list[str]:
    """The modules under `prefix` that `start` imports, directly or through other modules."""
    seen, todo = {start}, [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return sorted(name for name in seen if name == prefix or name.startswith(prefix + "."))


@pytest.mark.parametrize(("layer", "must_not_reach"), [
    ("portal.finance", "portal.integrations"),  # sync runs are infrastructure (portal.runs), not a tool's
    ("portal.runs", "portal.integrations"),
    ("portal.timesheets", "portal.integrations"),  # time from any tool comes in through timesheets.synced
    ("portal.projects", "portal.finance.views"),
])
def test_layers_that_must_not_know_each_other_do_not(layer, must_not_reach):
    graph = _graph()
    graph.pop("portal")
    for imports in graph.values():
        imports.discard("portal")
    offenders = {name: _reaches(graph, name, must_not_reach) for name in graph
                 if name == layer or name.startswith(layer + ".")}
    assert {name: reached for name, reached in offenders.items() if reached} == {}


def test_a_tool_is_named_only_inside_its_own_package():
    """Shared code reaches a timesheet tool through the registry, never by importing the tool's package."""
    graph = _graph()
    tools = sorted(name for name in MODULES if name.count(".") == 2 and name.startswith("portal.integrations.")
                   and (PORTAL / "integrations" / name.rsplit(".", 1)[1]).is_dir())
    assert tools  # toggl, procore
    offenders = {name: sorted(i for i in imports if any(i == t or i.startswith(t + ".") for t in tools))
                 for name, imports in graph.items()
                 if not any(name == t or name.startswith(t + ".") for t in tools)}
    assert {name: imported for name, imported in offenders.items() if imported} == {}


def test_nothing_imports_views_but_the_app_factory():
    """Views are the top of each package: the app factory registers them (a tool's through the registry)."""
    graph = _graph()
    offenders = {name: sorted(i for i in imports if i.rsplit(".", 1)[-1].endswith("views"))
                 for name, imports in graph.items() if name != "portal"}
    assert {name: imported for name, imported in offenders.items() if imported} == {}
