"""The architecture rules of docs/DESIGN.md, held against every import in the tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "runtime" / "ironside"

#: (package whose modules are checked, package they must never import, why)
RULES = [
    ("ironside.engine", "ironside.server", "the engine never imports the server"),
    ("ironside.engine", "ironside.cli", "the engine never imports the cli"),
    ("ironside.engine", "ironside.callcache", "the engine reaches the cache via cache_step"),
    ("ironside.backends", "ironside.engine", "backends never import the engine"),
    ("ironside.store", "ironside.engine", "the store never imports the engine"),
    ("ironside.filesystems", "ironside.backends", "file systems never import backends"),
    ("ironside.callcache", "ironside.engine.scheduler", "callcache: engine internals"),
    ("ironside.callcache", "ironside.engine.attempts", "callcache: engine internals"),
    ("ironside.callcache", "ironside.engine.graph", "callcache: engine internals"),
    ("ironside.callcache", "ironside.engine.runs", "callcache: engine internals"),
    ("ironside.callcache", "ironside.engine.service", "callcache: engine internals"),
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _modules(package: str) -> list[Path]:
    base = PKG.parent.joinpath(*package.split("."))
    return sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]


@pytest.mark.parametrize(("package", "forbidden", "why"), RULES)
def test_rule(package: str, forbidden: str, why: str) -> None:
    broken = [
        f"{_module_name(p)} imports {name}"
        for p in _modules(package)
        for name in sorted(_imports(p))
        if _inside(name, forbidden)
    ]
    assert not broken, f"{why}: " + "; ".join(broken)


def test_the_cdk_app_never_imports_the_engine() -> None:
    files = [ROOT / "app.py", *ROOT.joinpath("stacks").rglob("*.py")]
    files += ROOT.joinpath("pipeline").rglob("*.py")
    broken = [
        f"{p.relative_to(ROOT)} imports {name}"
        for p in files
        for name in _imports_anywhere(p)
        if _inside(name, "ironside")
    ]
    assert not broken, "; ".join(broken)


def _imports_anywhere(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
    return found


def test_the_rules_see_imports() -> None:
    """The checker itself finds a known import (a broken walker would pass everything)."""
    assert "ironside.engine.graph" in _imports(PKG / "engine" / "scheduler.py")
    assert "ironside.backends.base.Backend" in _imports(PKG / "engine" / "scheduler.py")
