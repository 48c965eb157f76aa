"""Values between miniwdl, JSON and the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import WDL
from WDL import Env, Value


def env_to_json(env: Env.Bindings[Value.Base], prefix: str = "") -> dict[str, Any]:
    """Bindings as a JSON-able dict keyed by ``prefix + name``."""
    return {prefix + b.name: b.value.json for b in env}


def dumps(obj: Any) -> str:
    """Compact JSON text."""
    return json.dumps(obj, separators=(",", ":"))


def value_from_json(ty: WDL.Type.Base, data: Any) -> Value.Base:
    """A typed value from its JSON form (as written by ``Value.json``)."""
    return Value.from_json(ty, data)


def map_files(value: Value.Base, fn: Callable[[str], str]) -> Value.Base:
    """Rewrite every File/Directory path inside ``value``."""
    return Value.rewrite_paths(value, lambda v: fn(v.value))


def files_in(value: Value.Base) -> list[str]:
    """Every File/Directory path inside ``value``."""
    found: list[str] = []

    def visit(v: Value.Base) -> None:
        if isinstance(v, Value.File | Value.Directory):
            found.append(v.value)
        for ch in v.children:
            visit(ch)

    visit(value)
    return found


def has_files(ty: WDL.Type.Base) -> bool:
    """Whether a type can hold File/Directory values."""
    if isinstance(ty, WDL.Type.File | WDL.Type.Directory):
        return True
    if isinstance(ty, WDL.Type.StructInstance) and ty.members:
        return any(has_files(t) for t in ty.members.values())
    return any(has_files(p) for p in ty.parameters)


def meta_json(value: Any) -> Any:
    """A task's ``meta`` section as JSON values (miniwdl keeps literals as expressions)."""
    if isinstance(value, dict):
        return {str(k): meta_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [meta_json(v) for v in value]
    if isinstance(value, WDL.Expr.Base):
        literal = value.literal
        return literal.json if literal is not None else str(value)
    return value
