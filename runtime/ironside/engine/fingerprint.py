"""What the call cache is told about a call attempt (see ``cache_step``)."""

from __future__ import annotations

from ironside.engine.cache_step import CallFingerprint
from ironside.engine.runs import CallRun
from ironside.wdl.values import files_in, meta_json


def fingerprint(cr: CallRun, backend: str) -> CallFingerprint:
    """The fingerprint of an evaluated (not yet submitted) task call attempt."""
    plan = cr.plan
    env = cr.env
    assert plan is not None and env is not None
    names = plan.input_names or frozenset(d.name for d in plan.decls)  # draft-2: all
    # Cromwell's hash key names: "input: File f", "output expression: String s"
    inputs = {f"{d.type} {d.name}": env[d.name].json for d in plan.decls if d.name in names}
    outputs = {f"{plan.output_types[n]} {n}": e for n, e in plan.output_expressions.items()}
    files: list[str] = []
    for d in plan.decls:
        if d.name in names:
            files += files_in(env[d.name])
    return CallFingerprint(
        workflow_id=cr.wf.id,
        call_fqn=cr.key,
        shard=cr.shard,
        attempt=cr.attempt,
        task_name=plan.task.name,
        command_template=plan.command_template,
        command=cr.command,
        backend=backend,
        runtime=cr.runtime,
        inputs=inputs,
        input_files=files,
        output_expressions=outputs,
        call_root=cr.call_root,
        options=cr.wf.options.raw,
        task_meta=meta_json(plan.task.meta or {}),
    )
