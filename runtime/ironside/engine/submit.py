"""Submission: validate everything before storing anything; build runs; reload for resume."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import WDL
from WDL import Env, Value

from ironside.engine.options import Options, parse_options
from ironside.engine.runs import CallRun, WorkflowRun
from ironside.errors import BadInputs, BadOptions, BadWorkflow, UserError
from ironside.filesystems.dispatch import FileSystems
from ironside.labels import validate_labels
from ironside.store.db import Store
from ironside.store.status import WorkflowStatus
from ironside.wdl import lenient, target
from ironside.wdl.loader import load_document
from ironside.wdl.reach import Confinement
from ironside.wdl.runtime_overrides import RuntimeOverrides, split_runtime_overrides
from ironside.wdl.stdlib import WorkflowStdLib
from ironside.wdl.values import dumps, map_files


@dataclass
class Submission:
    """A validated workflow submission (nothing stored yet)."""

    doc: WDL.Tree.Document
    workflow: WDL.Tree.Workflow
    inputs: Env.Bindings[Value.Base]
    options: Options
    labels: dict[str, str] = field(default_factory=dict)
    source: str = ""
    url: str = ""
    imports_zip: bytes | None = None
    runtime_overrides: RuntimeOverrides = field(default_factory=RuntimeOverrides)
    #: how the inputs JSON names the inputs (stored and shown so): ``wdl.target``
    names: target.InputNames | None = None

    @property
    def input_names(self) -> target.InputNames:
        """``names``, else the workflow's own."""
        return self.names or target.InputNames(self.workflow.name)

    @property
    def version(self) -> str:
        """The main document's WDL version."""
        return self.doc.wdl_version or "draft-2"


def read_json(path: str | None, what: str, error: type[UserError]) -> Any:
    """Parse a JSON file; malformed JSON is a one-line error naming file, line and column."""
    if not path:
        return None
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise error(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    return parse_json(text, f"{what} {path}", error)


def parse_json(text: str, where: str, error: type[UserError]) -> Any:
    """Parse JSON text, naming ``where`` in the error."""
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise error(f"{where}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}") from None


def bind_inputs(
    workflow: WDL.Tree.Workflow,
    data: Any,
    where: str = "inputs",
    base_dir: str | None = None,
    names: target.InputNames | None = None,
) -> Env.Bindings[Value.Base]:
    """Typed workflow inputs from Cromwell-style JSON; every problem is a ``BadInputs``.

    ``names``: how the JSON's keys name the inputs (default: the workflow's own names)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInputs(f"{where}: must be a JSON object, got {type(data).__name__}")
    available = workflow.available_inputs
    names = names or target.InputNames(workflow.name)
    env: Env.Bindings[Value.Base] = Env.Bindings()
    for key, raw in data.items():
        if key.startswith("#"):
            continue
        name = names.name(key)
        if name not in available:
            valid = ", ".join(sorted(names.key(b.name) for b in available)) or "(none)"
            raise BadInputs(f"{where}: unknown input {key!r}; valid inputs: {valid}")
        decl = available[name]
        ty = decl.type.copy(optional=True) if decl.expr is not None else decl.type
        try:
            value = Value.from_json(ty, raw)
        except WDL.Error.InputError as exc:
            raise BadInputs(f"{where}: input {key!r} must be {decl.type}: {exc}") from None
        env = env.bind(name, _check_files(value, key, where, base_dir or os.getcwd()))
    missing = [b.name for b in workflow.required_inputs if not env.has_binding(b.name)]
    if missing:
        listed = ", ".join(names.key(m) for m in sorted(missing))
        raise BadInputs(f"{where}: missing required input(s): {listed}")
    return env


def _check_files(value: Value.Base, key: str, where: str, base: str) -> Value.Base:
    def check(path: str) -> str:
        if "://" in path:
            return path
        full = os.path.abspath(os.path.join(base, path))
        if not os.path.exists(full):
            raise BadInputs(f"{where}: input {key!r}: file not found: {path}")
        return full

    return map_files(value, check)


def prepare(
    wdl_path: str,
    inputs_path: str | None = None,
    options_path: str | None = None,
    labels_path: str | None = None,
    imports_path: str | None = None,
    confinement: Confinement | None = None,
    task: str | None = None,
) -> Submission:
    """Read and validate the five files of a submission (``ironside run``); store nothing.

    ``task``: run this task of the document (``--task``) rather than its workflow."""
    limits = (confinement or Confinement()).limits
    if inputs_path and os.path.isfile(inputs_path):
        size = os.path.getsize(inputs_path)
        limits.check("max_inputs_bytes", size, f"inputs {inputs_path}: bytes")
    inputs_raw = read_json(inputs_path, "inputs", BadInputs)
    options_raw = read_json(options_path, "options", BadOptions)
    labels = read_json(labels_path, "labels", BadInputs)
    if isinstance(labels, dict):
        limits.check("max_labels", len(labels), f"labels {labels_path}: count")
    imports_zip = None
    if imports_path:
        try:
            with open(imports_path, "rb") as fh:
                imports_zip = fh.read()
        except OSError as exc:
            raise BadWorkflow(f"imports {imports_path}: cannot read: {exc.strerror}") from None
    try:
        with open(wdl_path) as fh:
            source = fh.read()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise BadWorkflow(f"{wdl_path}: workflow file not found") from None
        raise BadWorkflow(f"{wdl_path}: cannot read: {exc.strerror or exc}") from None
    return build_submission(
        source,
        os.path.abspath(wdl_path),
        inputs_raw,
        options_raw,
        labels,
        imports_zip,
        where=SubmissionWhere(
            wdl_path,
            f"inputs {inputs_path or '(none)'}",
            f"options {options_path}",
            f"labels {labels_path}",
        ),
        confinement=confinement,
        task=task,
    )


@dataclass(frozen=True)
class SubmissionWhere:
    """How errors name the parts of a submission (file names for ``run``, form fields for REST)."""

    source: str = "workflowSource"
    inputs: str = "workflowInputs"
    options: str = "workflowOptions"
    labels: str = "labels"


def build_submission(
    source: str,
    url: str,
    inputs: Any,
    options: Any,
    labels: Any,
    imports_zip: bytes | None,
    where: SubmissionWhere | None = None,
    confinement: Confinement | None = None,
    task: str | None = None,
) -> Submission:
    """The one submission pipeline: parse and typecheck the WDL, bind inputs, parse options.

    ``url`` is where the source came from (a local path for ``run``); every problem is a
    ``UserError`` naming the part. Backend-specific option checks follow (``WorkflowService``).
    ``confinement``: what the submission may reach and cost (default: ``ironside run``'s).
    ``task``: run that task as a one-call workflow (``wdl.target``); without it, the
    document's workflow, else its only task.
    """
    where = where or SubmissionWhere()
    reach = confinement or Confinement()
    parsed_options = parse_options(options, where.options)
    if labels is not None:  # Cromwell's rules, for run as on the server
        labels = validate_labels(labels, where.labels)
    doc = reach.load(url, imports_zip, source)
    run = target.select(doc, task, where.source)
    version = doc.wdl_version or "draft-2"
    inputs, overrides = split_runtime_overrides(
        run.workflow, inputs, version, where.inputs, run.names
    )
    bound = bind_inputs(run.workflow, inputs, where.inputs, names=run.names)
    return Submission(
        doc=doc,
        workflow=run.workflow,
        runtime_overrides=overrides,
        inputs=reach.inputs(bound),
        names=run.names,
        options=parsed_options,
        labels=labels or {},
        source=source,
        url=url,
        imports_zip=imports_zip,
    )


def store_submission(
    store: Store,
    sub: Submission,
    backend: str,
    root: str,
    wf_id: str | None = None,
    status: WorkflowStatus = WorkflowStatus.SUBMITTED,
) -> str:
    """Store a validated submission; return its workflow id (``wf_id``, or a new one).

    ``status``: ``Submitted``, or ``On Hold`` for a workflow that waits to be released.
    """
    wf_id = wf_id or str(uuid.uuid4())
    store.create_workflow(
        {
            "id": wf_id,
            "parent_id": None,
            "parent_call": None,
            "parent_shard": None,
            "name": sub.workflow.name,
            "status": status,
            "workflow_url": sub.url,
            "source": sub.source,
            "imports_zip": sub.imports_zip,
            "inputs": dumps(_stored_inputs(sub)),
            "options": dumps(sub.options.raw),
            "backend": backend,
            "root": os.path.join(_absolute_root(root), sub.workflow.name, wf_id),
            "outputs": None,
            "failures": None,
            "submitted": time.time(),
            "started": None,
            "ended": None,
        },
        sub.labels,
    )
    warnings = [*sub.options.warnings, *lenient.warnings(sub.doc)]
    for warning in [*warnings, *sub.runtime_overrides.warnings]:
        store.add_event(wf_id, "warning", warning)
    return wf_id


def _stored_inputs(sub: Submission) -> dict[str, Any]:
    names = sub.input_names
    inputs = {names.key(b.name): b.value.json for b in sub.inputs}
    return {**inputs, **sub.runtime_overrides.as_inputs(names)}


def _absolute_root(root: str) -> str:
    """A local root made absolute; an ``s3://`` root as it is."""
    return root.rstrip("/") if "://" in root else os.path.abspath(root)


def load_stored(store: Store, wf_id: str) -> tuple[Submission, dict[str, Any]]:
    """Rebuild a stored workflow's submission (for ``--resume``)."""
    row = store.workflow(wf_id)
    if row["parent_id"]:
        raise BadInputs(f"{wf_id} is a sub-workflow; resume its top-level workflow")
    doc = load_document(row["workflow_url"], row["imports_zip"], source_text=row["source"])
    run = target.stored(doc, row["name"])
    where = f"stored inputs of {wf_id}"
    data, overrides = split_runtime_overrides(
        run.workflow, json.loads(row["inputs"]), doc.wdl_version or "draft-2", where, run.names
    )
    inputs = bind_inputs(run.workflow, data, where, names=run.names)
    options = parse_options(json.loads(row["options"]))
    sub = Submission(doc, run.workflow, inputs, options, store.labels(wf_id), row["source"])
    sub.runtime_overrides = overrides
    sub.names = run.names
    return sub, row


def resume_index(store: Store, wf_id: str) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Stored attempts of a workflow's calls by (key fqn, shard), attempts ascending."""
    index: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in store.calls(wf_id):
        index.setdefault((row["fqn"], row["shard"]), []).append(row)
    return index


def top_run(
    sub: Submission,
    wf_id: str,
    root: str,
    resume: Store | None = None,
    files: FileSystems | None = None,
) -> WorkflowRun:
    """The run of a stored top-level workflow (``resume``: the store to resume from)."""
    files = files or FileSystems()
    write_dir = os.path.join(root, "write_")
    stdlib = WorkflowStdLib(sub.version, write_dir, files, os.path.dirname(sub.url))
    run = WorkflowRun(wf_id, sub.workflow, sub.inputs, sub.options, root, stdlib)
    run.runtime_overrides = sub.runtime_overrides
    run.input_names = sub.input_names
    if resume is not None:
        run.resume = resume_index(resume, wf_id)
        _index_children(resume, run)
    return run


def _index_children(store: Store, run: WorkflowRun) -> None:
    for row in store.sub_workflows(run.id):
        run.children_index[(row["parent_call"], row["parent_shard"])] = row["id"]


def child_run(cr: CallRun, files: FileSystems, store: Store) -> tuple[WorkflowRun, bool]:
    """The run of a sub-workflow call, and whether it is a stored one being resumed."""
    parent = cr.wf
    callee = cr.call.callee
    assert isinstance(callee, WDL.Tree.Workflow)
    # deterministic: after a crash the same call finds the same sub-workflow (and its
    # directories) even when its row never reached the store
    child_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ironside:{parent.id}/{cr.key}/{cr.shard}"))
    resuming = (cr.key, cr.shard) in parent.children_index
    parts = [parent.root, "call-" + cr.call.name] + [f"shard-{i}" for i in cr.block.path]
    cr.call_root = os.path.join(*parts)
    root = os.path.join(cr.call_root, callee.name, child_id)
    inputs: Env.Bindings[Value.Base] = Env.Bindings()
    for name, value in cr.provided.items():
        inputs = inputs.bind(name, value)
    version = getattr(getattr(callee, "parent", None), "wdl_version", None) or "draft-2"
    write_dir = os.path.join(root, "write_")
    stdlib = parent.stdlib.for_child(version, write_dir)  # same budget and path policy
    child = WorkflowRun(child_id, callee, inputs, parent.options, root, stdlib, parent=cr)
    if resuming:
        child.resume = resume_index(store, child_id)
        _index_children(store, child)
    elif parent.resume is not None:
        child.resume = {}
    return child, resuming
