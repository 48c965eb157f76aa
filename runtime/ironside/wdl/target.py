"""What a submission runs: the document's workflow, or one of its tasks (``run --task``).

A task runs as the root of a run the way ``miniwdl run --task NAME`` runs it: as a
one-call workflow named after the task, whose call is the task (call name = task name,
so metadata and the store key it ``NAME.NAME``) and whose outputs are the task's outputs
(``NAME.out``). Its inputs JSON names the task's inputs ``NAME.input`` or bare ``input``
(as miniwdl's ``values_from_json`` takes them); inside the engine they are the call's
inputs (``NAME.input`` in the workflow's namespace). ``InputNames`` maps the JSON's keys
to them and back, for errors, the stored inputs and metadata alike.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from WDL import Expr, Tree

from ironside.errors import BadWorkflow


@dataclass(frozen=True)
class InputNames:
    """How the keys of an inputs JSON name a run's inputs.

    A workflow: ``wf.x`` (or ``x``) is its input ``x``, ``wf.call.y`` the call input ``call.y``.
    A task run (``call`` set): ``task.x`` (or ``x``) is the input ``x`` of its one call.
    """

    workflow: str
    call: str = ""

    def name(self, key: str) -> str:
        """The input (``x`` or ``call.x``) that ``key`` of the inputs JSON means."""
        prefix = self.workflow + "."
        name = key[len(prefix) :] if key.startswith(prefix) else key
        return f"{self.call}.{name}" if self.call else name

    def key(self, name: str) -> str:
        """The inputs JSON key of the input ``name``, as messages show it."""
        if self.call:
            return self.workflow + name[len(self.call) :]
        return f"{self.workflow}.{name}"


@dataclass(frozen=True)
class Target:
    """The workflow to run, and how its inputs are named (``task``: a task run's task)."""

    workflow: Tree.Workflow
    task: str | None = None

    @property
    def names(self) -> InputNames:
        """How the submitted inputs JSON names this target's inputs."""
        return InputNames(self.workflow.name, self.task or "")


def select(doc: Tree.Document, task: str | None, where: str) -> Target:
    """The target of ``doc``: task ``task`` when given, else its workflow, else its only
    task; ``BadWorkflow`` naming the document's tasks when that does not say which."""
    if task is not None:
        return Target(task_workflow(doc, _task(doc, task, where)), task)
    if doc.workflow is not None:
        return Target(doc.workflow)
    if len(doc.tasks) == 1:
        return Target(task_workflow(doc, doc.tasks[0]), doc.tasks[0].name)
    if not doc.tasks:
        raise BadWorkflow(f"{where}: no workflow and no task to run")
    raise BadWorkflow(
        f"{where}: no workflow, and {len(doc.tasks)} tasks ({_task_names(doc)});"
        " name the one to run with --task NAME"
    )


def stored(doc: Tree.Document, name: str) -> Target:
    """The target of a stored run named ``name`` (a workflow never shares a task's name)."""
    if doc.workflow is not None and doc.workflow.name == name:
        return Target(doc.workflow)
    return select(doc, name, f"stored workflow {name}")


def _task(doc: Tree.Document, name: str, where: str) -> Tree.Task:
    for task in doc.tasks:
        if task.name == name:
            return task
    raise BadWorkflow(f"{where}: no task {name!r} in the document (tasks: {_task_names(doc)})")


def _task_names(doc: Tree.Document) -> str:
    return ", ".join(sorted(t.name for t in doc.tasks)) or "none"


def task_workflow(doc: Tree.Document, task: Tree.Task) -> Tree.Workflow:
    """A typechecked workflow named ``task.name`` calling ``task`` once, with its outputs."""
    pos = task.pos
    call = Tree.Call(pos, [task.name], None, {})
    # resolved here: miniwdl's resolution refuses a call named as its workflow
    call.callee = task
    workflow = Tree.Workflow(pos, task.name, None, [call], [], {}, {})
    workflow.effective_wdl_version = doc.effective_wdl_version
    holder = copy.copy(doc)  # typecheck looks the workflow up in its document
    holder.workflow = workflow
    workflow.typecheck(holder, check_quant=True)
    # set after typechecking: a task's output may share the task's name, which a workflow
    # output may not share with a call's; each is the call's output of the same type
    workflow.outputs = [
        Tree.Decl(pos, d.type, d.name, Expr.Ident(pos, f"{task.name}.{d.name}"), "output")
        for d in task.outputs
    ]
    workflow.parent = doc
    return workflow
