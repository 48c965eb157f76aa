"""Static plans computed once per workflow section and per task, shared by every shard.

A ``BlockPlan`` is a block's nodes (workflow body, scatter body, conditional
body) with in-block dependency counts: a node is ready when its count reaches
zero. Dependencies on nodes nested in a sibling section count against that
section; dependencies outside the block are satisfied before the block starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import WDL
from WDL import Tree, Type


@dataclass
class BlockPlan:
    """The shape of one block, independent of values."""

    nodes: dict[str, Tree.WorkflowNode]
    counts: dict[str, int]
    dependents: dict[str, list[str]]
    initial: list[str]
    produced: list[tuple[str, Type.Base]]


@dataclass
class TaskPlan:
    """A task's declarations in evaluation order and what the call cache needs of it."""

    task: Tree.Task
    version: str
    decls: list[Tree.Decl]
    input_names: frozenset[str]
    output_types: dict[str, Type.Base]
    command_template: str
    output_expressions: dict[str, str]
    file_inputs: list[str] = field(default_factory=list)


_BLOCK_ATTR = "_ironside_block_plan"
_TASK_ATTR = "_ironside_task_plan"


def nested_ids(node: Tree.WorkflowNode) -> set[str]:
    """Ids of a node and, for sections, of everything inside it (gathers included)."""
    ids = {node.workflow_node_id}
    if isinstance(node, Tree.WorkflowSection):
        for inner in node.body:
            ids |= nested_ids(inner)
        ids |= {g.workflow_node_id for g in node.gathers.values()}
    return ids


def outer_deps(node: Tree.WorkflowNode) -> set[str]:
    """Every node id outside ``node`` that it (or anything inside it) depends on."""
    deps = set(node.workflow_node_dependencies)
    if isinstance(node, Tree.WorkflowSection):
        for inner in node.body:
            deps |= outer_deps(inner)
        deps -= nested_ids(node)
    return deps


def produced_names(nodes: Iterable[Tree.WorkflowNode]) -> list[tuple[str, Type.Base]]:
    """The names a block binds for the outside, with their types inside the block."""
    out: list[tuple[str, Type.Base]] = []
    for node in nodes:
        if isinstance(node, Tree.Decl):
            out.append((node.name, node.type))
        elif isinstance(node, Tree.Call):
            out += [(b.name, b.value) for b in node.effective_outputs]
        elif isinstance(node, Tree.Scatter):
            out += [(n, Type.Array(t)) for n, t in produced_names(node.body)]
        elif isinstance(node, Tree.Conditional):
            out += [(n, t.copy(optional=True)) for n, t in produced_names(node.body)]
    return out


def block_plan(owner: object, nodes: list[Tree.WorkflowNode]) -> BlockPlan:
    """The (cached) plan of a block owned by a workflow or section."""
    plan: BlockPlan | None = getattr(owner, _BLOCK_ATTR, None)
    if plan is not None:
        return plan
    owner_of: dict[str, str] = {}
    for node in nodes:
        for nid in nested_ids(node):
            owner_of[nid] = node.workflow_node_id
    counts: dict[str, int] = {}
    dependents: dict[str, list[str]] = {n.workflow_node_id: [] for n in nodes}
    for node in nodes:
        me = node.workflow_node_id
        ups = {owner_of[d] for d in outer_deps(node) if d in owner_of and owner_of[d] != me}
        counts[me] = len(ups)
        for up in ups:
            dependents[up].append(me)
    plan = BlockPlan(
        nodes={n.workflow_node_id: n for n in nodes},
        counts=counts,
        dependents=dependents,
        initial=[n for n, c in counts.items() if c == 0],
        produced=produced_names(nodes),
    )
    setattr(owner, _BLOCK_ATTR, plan)  # cached on the syntax tree it describes
    return plan


def _idents(expr: WDL.Expr.Base | None) -> Iterator[str]:
    if expr is None:
        return
    if isinstance(expr, WDL.Expr.Ident):
        yield expr.name.split(".")[0]
    for ch in expr.children:
        if isinstance(ch, WDL.Expr.Base):
            yield from _idents(ch)


def order_decls(decls: list[Tree.Decl]) -> list[Tree.Decl]:
    """Declarations sorted so that each comes after those its expression refers to."""
    by_name = {d.name: d for d in decls}
    done: set[str] = set()
    out: list[Tree.Decl] = []

    def visit(d: Tree.Decl, stack: frozenset[str]) -> None:
        if d.name in done or d.name in stack:
            return
        for name in _idents(d.expr):
            if name in by_name and name != d.name:
                visit(by_name[name], stack | {d.name})
        done.add(d.name)
        out.append(d)

    for d in decls:
        visit(d, frozenset())
    return out


def source_of(node: Tree.SourceNode | WDL.Expr.Base) -> str:
    """The node's text as written (empty when the source is not at hand)."""
    doc = node
    while getattr(doc, "parent", None) is not None:
        doc = doc.parent  # type: ignore[assignment]
    lines = getattr(doc, "source_lines", None)
    pos = node.pos
    if not lines:
        return ""
    chunk = lines[pos.line - 1 : pos.end_line]
    if not chunk:
        return ""
    if len(chunk) == 1:
        return chunk[0][pos.column - 1 : pos.end_column].strip()
    chunk[0] = chunk[0][pos.column - 1 :]
    chunk[-1] = chunk[-1][: pos.end_column]
    return "\n".join(chunk).strip()


def task_plan(task: Tree.Task) -> TaskPlan:
    """The (cached) plan of a task."""
    cached: TaskPlan | None = getattr(task, _TASK_ATTR, None)
    if cached is not None:
        return cached
    doc = getattr(task, "parent", None)
    version = getattr(doc, "wdl_version", None) or "draft-2"
    inputs = list(task.inputs or [])
    plan = TaskPlan(
        task=task,
        version=version,
        decls=order_decls(inputs + list(task.postinputs)),
        input_names=frozenset(d.name for d in inputs),
        output_types={d.name: d.type for d in task.outputs},
        command_template=source_of(task.command),
        output_expressions={d.name: source_of(d) for d in task.outputs},
    )
    setattr(task, _TASK_ATTR, plan)
    return plan
