"""Bounds on a parsed document's shape: how deeply scatters and conditionals nest."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import WDL

from ironside.limits import Limits


def _depth(elements: Iterable[Any]) -> int:
    deepest = 0
    stack = [(e, 1) for e in elements]
    while stack:  # iterative: a pathological document must not exhaust the Python stack
        node, level = stack.pop()
        if isinstance(node, WDL.Tree.Scatter | WDL.Tree.Conditional):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node.body)
    return deepest


def check_nesting(doc: WDL.Tree.Document, limits: Limits) -> None:
    """``LimitExceeded`` when a workflow of ``doc`` (or of its imports) nests too deeply."""
    docs = [doc]
    seen: set[int] = set()
    while docs:
        current = docs.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.workflow is not None:
            where = f"workflow {current.workflow.name}"
            limits.check("max_nesting_depth", _depth(current.workflow.body), f"{where}: nesting")
        docs.extend(imp.doc for imp in current.imports if imp.doc is not None)
