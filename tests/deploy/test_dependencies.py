"""The image installs the project without its dev extras: every third-party module the four
packages import when loaded must come with `[project].dependencies` (directly or through them).

Module-level imports only (including those under a top-level `if` or `try`): an import inside a
function is often an optional fallback (the demo's embedded broker), so it is not judged here.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, packages_distributions, requires

from tests.deploy.conftest import ROOT

PACKAGES = ("gateway", "drivers", "simulators", "api")
# Imported at run time but not declared: reported to the lead (add to [project].dependencies).
# This set must shrink to empty; the test fails when one is fixed so the entry is removed.
KNOWN_UNDECLARED: set[str] = set()


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _runtime_closure() -> set[str]:
    """Distributions installed by `pip install .`: the declared ones and what they require."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pending = [_name(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            continue
        pending += [_name(r) for r in needs if "extra ==" not in r]
    return seen


def _module_level(tree: ast.Module) -> Iterator[ast.stmt]:
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If | ast.Try):
            pending += [*node.body, *node.orelse]
            if isinstance(node, ast.Try):
                pending += [*node.finalbody, *(s for h in node.handlers for s in h.body)]


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in _module_level(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}


def test_every_runtime_import_is_a_declared_dependency() -> None:
    closure, owners = _runtime_closure(), packages_distributions()
    undeclared = {
        module
        for module in _imported_modules()
        if not any(_name(dist) in closure for dist in owners.get(module, []))
    }
    assert undeclared == KNOWN_UNDECLARED, (
        f"imported by {', '.join(PACKAGES)} but not installed by `pip install .`: "
        f"{sorted(undeclared - KNOWN_UNDECLARED)}; declared now (remove from KNOWN_UNDECLARED): "
        f"{sorted(KNOWN_UNDECLARED - undeclared)}"
    )
