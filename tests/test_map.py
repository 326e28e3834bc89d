"""CONTRIBUTING.md's map is the code's: every package and top-level module of portal/ (and every file of a tool
package) has its line, and every line names something that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"[\w.]+(?:\.py|/)")


def _map_lines() -> list[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text[text.index("## The map"):]
    return section[section.index("```") + 3:].split("```", 1)[0].strip("\n").splitlines()


def map_paths() -> set[str]:
    """The paths the map names: a line's leading names (`a.py, b.py` or `pkg/`), nested by indentation."""
    paths: set[str] = set()
    parents: list[tuple[int, str]] = []
    for line in _map_lines():
        indent = len(line) - len(line.lstrip())
        names = []
        for token in line.strip().split():
            if not NAME.fullmatch(token.rstrip(",")):
                break
            names.append(token.rstrip(","))
            if not token.endswith(","):
                break
        if not names:
            continue  # a description running on
        while parents and parents[-1][0] >= indent:
            parents.pop()
        prefix = parents[-1][1] if parents else ""
        for name in names:
            paths.add(prefix + name)
        if names[-1].endswith("/"):
            parents.append((indent, prefix + names[-1]))
    return paths


def code_paths() -> set[str]:
    """Every package and top-level module of portal/, and every module of a timesheet tool's package."""
    portal = ROOT / "portal"
    found = {"portal/"}
    for path in portal.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        folder = path.parent.relative_to(ROOT).as_posix() + "/"
        found.add(folder)
        if path.parent in (portal, portal / "integrations") or path.parent.parent == portal / "integrations":
            found.add(relative)
    return found


def test_the_map_names_every_package_and_module():
    assert code_paths() - map_paths() == set()


def test_every_name_on_the_map_exists():
    assert {path for path in map_paths() if not (ROOT / path).exists()} == set()
