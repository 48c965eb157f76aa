"""Runtime attributes set from the inputs JSON: ``"wf.call.runtime.memory": "16 GB"``.

WDL 1.1 and later define them (the spec's "Specifying / Overriding Runtime Attributes";
Cromwell accepts them from 1.1 on): ``<workflow>.<call>[.<call> ...].runtime.<attribute>``
names a call by its alias, through sub-workflow calls, and the value supersedes the
task's own for every shard of that call. In draft-2 and 1.0 documents no spec defines
them; they are accepted as the same lenient extension, each with a warning that it is
non-standard (recorded in the workflow's metadata).

A key naming no call is a ``BadInputs`` naming the key and the calls there are; values
must be JSON scalars or lists (not objects).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from WDL import Tree

from ironside.errors import BadInputs
from ironside.wdl.target import InputNames
from ironside.wdl.versions import at_least

SEGMENT = ".runtime."


@dataclass(frozen=True)
class RuntimeOverrides:
    """Attributes by call path (``"task1"``, ``"subwf.task3"``), and the warnings to record."""

    by_call: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def for_call(self, path: str) -> dict[str, Any]:
        """The attributes set for the call at ``path`` (empty when none)."""
        return self.by_call.get(path, {})

    def as_inputs(self, names: InputNames) -> dict[str, Any]:
        """The overrides as inputs JSON keys again (stored with the inputs)."""
        return {
            names.key(f"{path}{SEGMENT}{attr}"): value
            for path, attrs in self.by_call.items()
            for attr, value in attrs.items()
        }


def _calls(workflow: Tree.Workflow, prefix: str = "") -> Iterator[tuple[str, Tree.Call]]:
    """Every call of ``workflow`` (in any scatter or conditional) and of its sub-workflows."""

    def walk(nodes: list[Any]) -> Iterator[Tree.Call]:
        for node in nodes:
            if isinstance(node, Tree.Call):
                yield node
            elif isinstance(node, Tree.Scatter | Tree.Conditional):
                yield from walk(node.body)

    for call in walk(workflow.body):
        path = prefix + call.name
        if isinstance(call.callee, Tree.Workflow):
            yield from _calls(call.callee, path + ".")
        else:
            yield path, call


def split_runtime_overrides(
    workflow: Tree.Workflow, data: Any, version: str, where: str, names: InputNames | None = None
) -> tuple[Any, RuntimeOverrides]:
    """``data`` without its ``<call>.runtime.<attribute>`` keys, and those keys parsed.

    ``names``: how the keys name the calls (default: the workflow's own names; a task run's
    ``task.runtime.<attribute>`` names its one call)."""
    if not isinstance(data, Mapping) or not any(SEGMENT in str(k) for k in data):
        return data, RuntimeOverrides()
    names = names or InputNames(workflow.name)
    tasks = dict(_calls(workflow))
    rest: dict[str, Any] = {}
    by_call: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for key, value in data.items():
        path, sep, attr = names.name(key).rpartition(SEGMENT)
        if not sep or "." in attr or not attr:
            rest[key] = value
            continue
        if path not in tasks:
            known = ", ".join(names.key(f"{p}{SEGMENT}<attribute>") for p in sorted(tasks))
            raise BadInputs(
                f"{where}: {key!r}: no call {path!r} to set a runtime attribute of"
                f" (calls: {known or 'none'})"
            )
        if isinstance(value, dict) or value is None:
            raise BadInputs(
                f"{where}: {key!r}: a runtime attribute must be a string, number, boolean or list"
            )
        by_call.setdefault(path, {})[attr] = value
        if not at_least(version, "1.1"):
            warnings.append(
                f"{where}: {key!r}: runtime attributes in the inputs are not standard in WDL"
                f" {version} (defined from WDL 1.1); applied as Cromwell's extension"
            )
    return rest, RuntimeOverrides(by_call, tuple(warnings))
