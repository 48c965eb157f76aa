"""The scheduler: walks workflow graphs, starts calls on a backend, records state.

Single-threaded. One loop iteration (a *tick*): evaluate every ready node
(declarations, scatters, conditionals, calls' inputs), start queued calls up to
the concurrent-job limit, wait for the backend, finish the calls whose jobs
ended. Store writes are queued and flushed at most every ``flush_interval``
seconds, so a 10,000-shard scatter means a few hundred commits, not 20,000.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import WDL
from WDL import Env, Tree, Value

from ironside.backends.base import Backend, JobRequest, JobState, JobStatus
from ironside.engine import calls as C
from ironside.engine.cache_step import CacheStep, NoCache
from ironside.engine.finalize import OutputCollision, check_output_paths
from ironside.engine.fingerprint import fingerprint
from ironside.engine.plan import BlockPlan, block_plan, order_decls, task_plan
from ironside.engine.runs import ABORTED, FAILED, RUNNING, SUCCEEDED, BlockRun, CallRun, WorkflowRun
from ironside.errors import BadRuntimeAttribute
from ironside.store.db import Store
from ironside.tasks import FileTransfer, ScriptSpec, render_script
from ironside.tasks.s3_localizer import download_inputs
from ironside.wdl.values import dumps, env_to_json

log = logging.getLogger("ironside.engine")

Counts = dict[str, int]


class Engine:
    """Runs workflows to completion on one backend, with state in one store."""

    def __init__(
        self,
        store: Store,
        backend: Backend,
        job_limit: int,
        default_runtime: dict[str, Any] | None = None,
        cache: CacheStep | None = None,
        clock: Callable[[], float] = time.time,
        flush_interval: float = 0.2,
        poll_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.backend = backend
        self.job_limit = max(1, job_limit)
        self.default_runtime = dict(default_runtime or {})
        self.cache: CacheStep = cache or NoCache()
        self.clock = clock
        self.flush_interval = flush_interval
        self.poll_interval = poll_interval
        self.ready: deque[tuple[BlockRun, str]] = deque()
        self.queue: deque[CallRun] = deque()
        self.running: dict[str, CallRun] = {}
        self.maybe_done: set[WorkflowRun] = set()
        self.expansions: deque[_Expansion] = deque()
        self._pid_pending: list[CallRun] = []
        self.open: set[WorkflowRun] = set()
        self.counts: Counts = dict(queued=0, running=0, done=0, failed=0, cached=0)
        self.abort_requested = False
        self.on_tick: Callable[[Engine], None] | None = None
        self._last_flush = 0.0

    # ---- workflow lifecycle -------------------------------------------------------------
    def start_workflow(self, run: WorkflowRun) -> None:
        """Bind inputs, start the top block."""
        self.open.add(run)
        wf = run.workflow
        try:
            run.input_env = self._bind_inputs(run)
        except C.CallFailure as exc:
            run.fail(str(exc))
            self.maybe_done.add(run)
            return
        shown = {b.name: b.value.json for b in run.inputs}
        shown.update({b.name: b.value.json for b in run.input_env})
        prefix = run.name + "."
        self.store.update_workflow(run.id, inputs=dumps({prefix + k: v for k, v in shown.items()}))
        plan = block_plan(wf, wf.body)
        run.top = BlockRun(plan, run.input_env, run, (), lambda b: self._top_done(run))
        self._start_block(run.top)

    def _bind_inputs(self, run: WorkflowRun) -> Env.Bindings[Value.Base]:
        env: Env.Bindings[Value.Base] = Env.Bindings()
        given = {b.name: b.value for b in run.inputs}
        for b in run.inputs:
            if "." in b.name:  # draft-2 style inputs of calls: "<call>.<input>"
                call, name = b.name.split(".", 1)
                run.call_overrides.setdefault(call, {})[name] = b.value
        for decl in order_decls(list(run.workflow.inputs or [])):
            env = env.bind(decl.name, self._decl_value(run, decl, env, given))
        return env

    def _decl_value(
        self,
        run: WorkflowRun,
        decl: Tree.Decl,
        env: Env.Bindings[Value.Base],
        given: dict[str, Value.Base],
    ) -> Value.Base:
        value = given.get(decl.name)
        try:
            if value is not None and not (isinstance(value, Value.Null) and decl.expr):
                return value.coerce(decl.type)
            if decl.expr is not None:
                return C.anchor_default(decl.expr.eval(env, run.stdlib).coerce(decl.type), decl)
        except C.EVAL_ERRORS as exc:
            raise C.CallFailure(f"{C.where(decl)}: {decl.name}: {exc}") from None
        if decl.type.optional:
            return Value.Null()
        raise C.CallFailure(f"{C.where(decl)}: required input {decl.name} not supplied")

    def _top_done(self, run: WorkflowRun) -> None:
        run.top_done = True
        self.maybe_done.add(run)

    def _finish_workflow(self, run: WorkflowRun) -> None:
        self.open.discard(run)
        now = self.clock()
        if run.status == RUNNING:
            if self.abort_requested:
                run.status = ABORTED
            elif run.top_done and not run.failures:
                try:
                    run.outputs = self._workflow_outputs(run)
                    if run.parent is None:
                        outs = env_to_json(run.outputs, run.name + ".")
                        check_output_paths(outs, run.root, run.options)
                    run.status = SUCCEEDED
                except (C.CallFailure, OutputCollision) as exc:
                    run.fail(str(exc))
                    run.status = FAILED
            else:
                run.status = FAILED
                if not run.failures:
                    run.fail("workflow did not complete")
        outputs = env_to_json(run.outputs, run.name + ".") if run.outputs is not None else None
        self.store.update_workflow(
            run.id,
            status=run.status,
            ended=now,
            outputs=dumps(outputs) if outputs is not None else None,
            failures=dumps(run.failures) if run.failures else None,
        )
        self.store.add_event(run.id, "status", run.status, now)
        log.info("workflow %s %s %s", run.name, run.id, run.status)
        if run.parent is not None:
            self._sub_workflow_done(run.parent, run)

    def _workflow_outputs(self, run: WorkflowRun) -> Env.Bindings[Value.Base]:
        assert run.top is not None
        env = run.top.env
        wf = run.workflow
        outs: Env.Bindings[Value.Base] = Env.Bindings()
        if wf.outputs is None:
            for b in wf.effective_outputs:
                outs = outs.bind(b.name, env[b.name])
            return outs
        for decl in wf.outputs:
            assert decl.expr is not None
            try:
                value = decl.expr.eval(env, run.stdlib).coerce(decl.type)
            except C.EVAL_ERRORS as exc:
                raise C.CallFailure(f"{C.where(decl)}: output {decl.name}: {exc}") from None
            env = env.bind(decl.name, value)
            outs = outs.bind(decl.name, value)
        return outs

    # ---- blocks and nodes ---------------------------------------------------------------
    def _start_block(self, block: BlockRun) -> None:
        if not block.pending:
            block.on_done(block)
            return
        for node_id in block.plan.initial:
            self.ready.append((block, node_id))

    def _node_done(self, block: BlockRun, node_id: str) -> None:
        counts = block.counts
        for dep in block.plan.dependents[node_id]:
            counts[dep] -= 1
            if not counts[dep]:
                self.ready.append((block, dep))
        block.pending -= 1
        if not block.pending:
            block.on_done(block)

    def _run_node(self, block: BlockRun, node_id: str) -> None:
        node = block.plan.nodes[node_id]
        run = block.wf
        if run.stopping() and not isinstance(node, Tree.Decl):
            return
        try:
            if isinstance(node, Tree.Decl):
                given = {} if block is not run.top else {b.name: b.value for b in run.inputs}
                block.env = block.env.bind(node.name, self._decl_value(run, node, block.env, given))
                self._node_done(block, node_id)
            elif isinstance(node, Tree.Call):
                self._start_call(block, node)
            elif isinstance(node, Tree.Scatter):
                self._start_scatter(block, node)
            elif isinstance(node, Tree.Conditional):
                self._start_conditional(block, node)
        except C.CallFailure as exc:
            block.failed = True
            run.fail(str(exc))
            self.maybe_done.add(run)

    def _eval(self, block: BlockRun, expr: WDL.Expr.Base) -> Value.Base:
        try:
            return expr.eval(block.env, block.wf.stdlib)
        except C.EVAL_ERRORS as exc:
            raise C.CallFailure(f"{C.where(expr)}: {exc}") from None

    def _start_scatter(self, block: BlockRun, node: Tree.Scatter) -> None:
        array = self._eval(block, node.expr)
        items = array.value if isinstance(array, Value.Array) else []
        plan = block_plan(node, node.body)
        if not items:
            self._gather(_Expansion(self, block, node, plan, []))
            return
        # shards start lazily (see _expand), so a 10,000-shard scatter does not hold
        # 10,000 queued calls; the unexpanded rest keeps the workflow active
        block.wf.active += 1
        self.expansions.append(_Expansion(self, block, node, plan, list(items)))

    def _expand(self) -> None:
        """Start more scatter shards while few calls wait in the queue."""
        want = 2 * self.job_limit - len(self.queue)
        while want > 0 and self.expansions:
            exp = self.expansions[0]
            run = exp.block.wf
            if run.stopping():
                self.expansions.popleft()
                self._dec_active(run)
                continue
            i = exp.next
            exp.next += 1
            if exp.next == len(exp.items):
                self.expansions.popleft()
                self._dec_active(run)
            env = exp.block.env.bind(exp.node.variable, exp.items[i])
            self._start_block(BlockRun(exp.plan, env, run, exp.block.path + (i,), exp.shard_done))
            want -= 1

    def _gather(self, exp: _Expansion) -> None:
        block = exp.block
        env = block.env
        for k, (name, ty) in enumerate(exp.plan.produced):
            env = env.bind(name, Value.Array(ty, [r[k] for r in exp.results]))
        block.env = env
        self._node_done(block, exp.node.workflow_node_id)

    def _start_conditional(self, block: BlockRun, node: Tree.Conditional) -> None:
        cond = self._eval(block, node.expr)
        plan = block_plan(node, node.body)
        if not cond.value:
            env = block.env
            for name, _ty in plan.produced:
                env = env.bind(name, Value.Null())
            block.env = env
            self._node_done(block, node.workflow_node_id)
            return

        def taken_done(inner: BlockRun) -> None:
            env = block.env
            for name, _ty in plan.produced:
                env = env.bind(name, inner.env[name])
            block.env = env
            self._node_done(block, node.workflow_node_id)

        self._start_block(BlockRun(plan, block.env, block.wf, block.path, taken_done))

    # ---- calls --------------------------------------------------------------------------
    def _start_call(self, block: BlockRun, call: Tree.Call) -> None:
        run = block.wf
        provided: dict[str, Value.Base] = dict(run.call_overrides.get(call.name, ()))
        for name, expr in call.inputs.items():
            provided[name] = self._eval(block, expr)
        callee = call.callee
        if isinstance(callee, Tree.Workflow):
            cr = CallRun(run, block, call, None, provided)
            run.active += 1
            self._start_sub_workflow(cr)
            return
        assert isinstance(callee, Tree.Task)
        cr = CallRun(run, block, call, task_plan(callee), provided)
        if run.stopping():
            return
        run.active += 1
        self.counts["queued"] += 1
        self.queue.append(cr)

    def _call_root(self, cr: CallRun) -> str:
        parts = [cr.wf.root, "call-" + cr.call.name]
        parts += [f"shard-{i}" for i in cr.block.path]
        if cr.attempt > 1:
            parts.append(f"attempt-{cr.attempt}")
        return os.path.join(*parts)

    def _dispatch(self) -> None:
        """Start queued calls while below the concurrent-job limit."""
        while self.queue and len(self.running) < self.job_limit and self._backend_has_room():
            cr = self.queue.popleft()
            self.counts["queued"] -= 1
            if cr.wf.stopping():
                self._dec_active(cr.wf)
                continue
            try:
                self._launch(cr)
            except C.CallFailure as exc:
                self._call_failed(cr, str(exc), retry=False)

    def _launch(self, cr: CallRun) -> None:
        if cr.wf.resume is not None and cr.attempt == 1 and self._resume_call(cr):
            return
        plan = cr.plan
        assert plan is not None
        cr.call_root = self._call_root(cr)
        ex = os.path.join(cr.call_root, "execution")
        env = C.task_env(plan, cr.provided, ex)
        cr.env = env
        defaults = self.default_runtime | cr.wf.options.default_runtime_attributes
        cr.runtime = C.eval_runtime(plan, env, ex, defaults)
        if cr.memory_factor != 1.0:
            cr.runtime["memory"] = C.scaled_memory(cr.runtime.get("memory"), cr.memory_factor)
        self._check_runtime(cr)
        cmd_env, transfers = self._stage_inputs(cr, env)
        cmd_env = C.with_task_info(plan, cmd_env, cr.runtime, cr.attempt, cr.key)
        cr.command = C.render_command(plan, cmd_env, ex)
        cr.inputs_json = dumps({d.name: env[d.name].json for d in plan.decls})
        if self.cache.enabled and self._cache_hit(cr):
            return
        localizer = self.backend.localizer
        if localizer is not None and not hasattr(localizer, "map_inputs"):
            # inputs to copy in (the backend's localizer maps paths)
            transfers = [FileTransfer(p, p) for p in fingerprint(cr, "").input_files]
        upload = C.upload_plan(plan, env) if localizer is not None else None
        spec = ScriptSpec(
            command=cr.command,
            execution_dir=ex,
            work_dir=ex,
            title=cr.key,
            inputs=transfers,
            upload=None if upload is None else upload[0],
            upload_globs=() if upload is None else upload[1],
        )
        request = JobRequest(
            workflow_id=cr.wf.id,
            call_fqn=cr.key,
            shard=cr.shard,
            attempt=cr.attempt,
            call_root=cr.call_root,
            script=render_script(spec, localizer),
            runtime=cr.runtime,
            options=cr.wf.options.raw,
        )
        job_id = None
        if cr.recover:
            job_id = self.backend.recover(request, cr.job_id)
        if job_id is None:
            job_id = self.backend.submit(request)
        cr.job_id = job_id
        cr.started = self.clock()
        self.running[job_id] = cr
        self.counts["running"] += 1
        self._store_started(cr)
        self._backend_metadata(cr)

    def _backend_metadata(self, cr: CallRun) -> None:
        """What the backend knows of the attempt's job (images, logs, Batch's reasons)."""
        describe = getattr(self.backend, "call_metadata", None)
        info = describe(cr.job_id) if describe is not None and cr.job_id else None
        if info:
            key = {"fqn": cr.key, "shard": cr.shard, "attempt": cr.attempt}
            self.store.add_event(cr.wf.id, "call-metadata", {**key, **info})

    def _more_memory(self, cr: CallRun, state: JobState) -> None:
        """Out of memory with ``memory_retry_multiplier``: the next attempt asks for more."""
        factor = cr.wf.options.raw.get("memory_retry_multiplier")
        if (state.reason or "").startswith("OutOfMemory") and factor:
            try:
                cr.memory_factor *= float(factor)
            except (TypeError, ValueError):
                log.warning("memory_retry_multiplier %r is not a number", factor)

    def _backend_has_room(self) -> bool:
        """False while the backend's own concurrent-job-limit is reached (AWS Batch)."""
        slots = getattr(self.backend, "available_slots", None)
        return slots is None or (free := slots()) is None or free > 0

    def _check_runtime(self, cr: CallRun) -> None:
        """The backend's validation of the runtime attributes, before anything is submitted."""
        try:
            self.backend.validate_runtime(cr.runtime)
        except BadRuntimeAttribute as exc:
            raise C.CallFailure(f"{cr.key}: {exc}") from None

    def _stage_inputs(
        self, cr: CallRun, env: Env.Bindings[Value.Base]
    ) -> tuple[Env.Bindings[Value.Base], list[FileTransfer]]:
        """The environment the command sees, and the inputs the script must copy in.

        Local: ``s3://`` inputs are downloaded under ``<call_root>/inputs`` first. A
        localizer with ``map_inputs`` (AWS Batch) maps them to paths on the task's host.
        """
        localizer = self.backend.localizer
        map_inputs = getattr(localizer, "map_inputs", None)
        try:
            if map_inputs is not None:
                mapped, transfers = map_inputs(env)
                return mapped, list(transfers)
            staged = os.path.join(cr.call_root, "inputs")
            return download_inputs(env, staged, _fetch), []
        except (OSError, ValueError) as exc:
            raise C.CallFailure(f"{cr.key}: inputs: {exc}") from None

    def _store_started(self, cr: CallRun) -> None:
        row = {
            "workflow_id": cr.wf.id,
            "fqn": cr.key,
            "shard": cr.shard,
            "attempt": cr.attempt,
            "status": "Running",
            "backend": self.backend.name,
            "call_root": cr.call_root,
            "job_id": cr.job_id,
            "return_code": None,
            "inputs": cr.inputs_json,
            "outputs": None,
            "runtime": dumps(cr.runtime),
            "command": cr.command,
            "failures": None,
            "sub_workflow_id": None,
            "cached": False,
            "started": cr.started,
            "ended": None,
        }
        if cr.recover:
            # the row may exist already (stored before the restart)
            self.store.update_call(cr.store_key, status="Running", job_id=cr.job_id)
            self.store.ensure_call(row)
        else:
            self.store.add_call(row)
        if cr.recover or cr.job_id is None:
            return
        pid = getattr(self.backend, "pid", lambda _j: None)(cr.job_id)
        if pid is not None and pid <= 0:
            self._pid_pending.append(cr)  # spawned on another thread: stored at the next flush
        self.store.add_job(
            {
                "workflow_id": cr.wf.id,
                "fqn": cr.key,
                "shard": cr.shard,
                "attempt": cr.attempt,
                "backend": self.backend.name,
                "job_id": cr.job_id,
                "pid": pid if pid is not None and pid > 0 else None,
                "started": cr.started,
            }
        )

    def _resume_call(self, cr: CallRun) -> bool:
        """Resuming: reuse a finished attempt, or pick up where the last attempt was."""
        assert cr.wf.resume is not None
        rows = cr.wf.resume.get((cr.key, cr.shard))
        cr.recover = True
        if not rows:
            return False
        last = rows[-1]
        if last["status"] == "Done":
            cr.attempt = last["attempt"]
            cr.call_root = last["call_root"]
            outputs = self._outputs_from_json(cr, last["outputs"] or "{}")
            self.counts["done"] += 1
            self._call_succeeded(cr, outputs, stored=True)
            return True
        if last["status"] in ("Running", "Starting"):
            cr.attempt = last["attempt"]
            cr.job_id = last["job_id"]
        else:
            cr.attempt = last["attempt"] + 1
            cr.job_id = None
        return False

    def _outputs_from_json(self, cr: CallRun, text: str) -> Env.Bindings[Value.Base]:
        assert cr.plan is not None
        return C.outputs_from_json(cr.plan, json.loads(text))

    def _cache_hit(self, cr: CallRun) -> bool:
        fp = fingerprint(cr, self.backend.name)
        cr.fingerprint = fp
        hit = self.cache.lookup(fp)
        if hit is None:
            return False
        assert cr.plan is not None
        outputs = C.outputs_from_json(cr.plan, hit.outputs)
        cr.started = self.clock()
        self._store_started(cr)
        self.counts["cached"] += 1
        self._call_succeeded(cr, outputs, cached=hit.source)
        return True

    # ---- completion ---------------------------------------------------------------------
    def _job_ended(self, cr: CallRun, state: JobState) -> None:
        assert cr.job_id is not None
        self.running.pop(cr.job_id, None)
        self.counts["running"] -= 1
        if state.status == JobStatus.ABORTED or self.abort_requested:
            self._call_aborted(cr, state.reason or "aborted")
            return
        self._backend_metadata(cr)
        if state.status != JobStatus.SUCCEEDED or state.return_code is None:
            self._more_memory(cr, state)
            ex = os.path.join(cr.call_root, "execution")
            reason = C.with_stderr(state.reason or "job failed", ex)
            self._call_failed(cr, reason, retry=True, free=state.retryable)
            return
        rc = state.return_code
        ex = os.path.join(cr.call_root, "execution")
        if not C.return_code_ok(rc, cr.runtime):
            failed = f"{cr.key} failed: return code {rc} (see {ex}/stderr)"
            self._call_failed(cr, C.with_stderr(failed, ex), rc=rc)
            return
        if C.truthy(cr.runtime.get("failOnStderr")) and _nonempty(os.path.join(ex, "stderr")):
            self._call_failed(cr, f"{cr.key} failed: failOnStderr and stderr is not empty", rc=rc)
            return
        assert cr.plan is not None and cr.env is not None
        try:
            env = C.with_task_info(cr.plan, cr.env, cr.runtime, cr.attempt, cr.key, rc)
            outputs = C.eval_outputs(cr.plan, env, ex)
        except C.CallFailure as exc:
            self._call_failed(cr, f"{cr.key} failed: {exc}", rc=rc, retry=False)
            return
        self.counts["done"] += 1
        self._call_succeeded(cr, outputs, rc=rc)

    def _call_succeeded(
        self,
        cr: CallRun,
        outputs: Env.Bindings[Value.Base],
        rc: int | None = None,
        stored: bool = False,
        cached: str | None = None,
    ) -> None:
        if not stored:
            out_json = {b.name: b.value.json for b in outputs}
            values: dict[str, Any] = dict(
                status="Done", outputs=dumps(out_json), ended=self.clock()
            )
            if rc is not None:
                values["return_code"] = rc
            if cached is not None:
                values["cached"] = True
            self.store.update_call(cr.store_key, **values)
            if cr.fingerprint is not None and cached is None:
                self.cache.record(cr.fingerprint, out_json)
        block = cr.block
        block.env = Env.merge(outputs.wrap_namespace(cr.call.name), block.env)
        cr.env = None
        self._node_done(block, cr.call.workflow_node_id)
        self._dec_active(cr.wf)

    def _call_failed(
        self,
        cr: CallRun,
        message: str,
        rc: int | None = None,
        retry: bool = True,
        free: bool = False,
    ) -> None:
        max_retries = C.int_attr(cr.runtime.get("maxRetries"), 0)
        can_retry = retry and (free or cr.attempt <= max_retries) and not cr.wf.stopping()
        status = "RetryableFailure" if can_retry else "Failed"
        if cr.job_id is not None or cr.call_root:
            if not cr.job_id:
                cr.started = self.clock()
                self._store_started(cr)
            self.store.update_call(
                cr.store_key,
                status=status,
                return_code=rc,
                ended=self.clock(),
                failures=dumps([{"message": message, "causedBy": []}]),
            )
        if can_retry:
            log.warning("%s attempt %d failed, retrying: %s", cr.key, cr.attempt, message)
            cr.attempt += 1
            cr.job_id = None
            cr.recover = False
            self.counts["queued"] += 1
            self.queue.appendleft(cr)
            return
        log.error("%s", message)
        self.counts["failed"] += 1
        cr.block.failed = True
        cr.wf.fail(message)
        self._dec_active(cr.wf)

    def _call_aborted(self, cr: CallRun, reason: str) -> None:
        self.store.update_call(cr.store_key, status="Aborted", ended=self.clock())
        cr.wf.failures.append({"message": f"{cr.key} aborted: {reason}", "causedBy": []})
        self._dec_active(cr.wf)

    def _dec_active(self, run: WorkflowRun) -> None:
        run.active -= 1
        if not run.active:
            self.maybe_done.add(run)

    # ---- sub-workflows ------------------------------------------------------------------
    def _start_sub_workflow(self, cr: CallRun) -> None:
        from ironside.engine.submit import child_run  # circular at import time

        child = child_run(self, cr)
        cr.child = child
        self.start_workflow(child)

    def _sub_workflow_done(self, cr: CallRun, child: WorkflowRun) -> None:
        if child.status == SUCCEEDED and child.outputs is not None:
            self.store.update_call(
                cr.store_key,
                status="Done",
                ended=self.clock(),
                outputs=dumps({b.name: b.value.json for b in child.outputs}),
            )
            block = cr.block
            block.env = Env.merge(child.outputs.wrap_namespace(cr.call.name), block.env)
            self._node_done(block, cr.call.workflow_node_id)
            self._dec_active(cr.wf)
            return
        self.store.update_call(cr.store_key, status=child.status, ended=self.clock())
        cr.block.failed = True
        if child.status == ABORTED:
            cr.wf.failures.append({"message": f"{cr.key} aborted", "causedBy": []})
        else:
            cr.wf.fail(f"sub-workflow {cr.key} failed", child.failures)
        self._dec_active(cr.wf)

    # ---- the loop -----------------------------------------------------------------------
    def _drain(self) -> None:
        while self.ready or self.maybe_done:
            while self.ready:
                block, node_id = self.ready.popleft()
                self._run_node(block, node_id)
            if self.maybe_done:
                done = [r for r in self.maybe_done if r.active == 0 and r in self.open]
                self.maybe_done.clear()
                for run in done:
                    if run.top_done or run.failures or run.status != RUNNING:
                        self._finish_workflow(run)
                    elif not self.ready and not run.active:
                        self._finish_workflow(run)

    def _abort_all(self) -> None:
        for job_id in list(self.running):
            self.backend.abort(job_id)
        for run in self.open:
            run.no_new_calls = True

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_flush >= self.flush_interval:
            self._record_pids()
            self.store.flush()
            self._last_flush = now

    def _record_pids(self) -> None:
        pid_of = getattr(self.backend, "pid", None)
        if pid_of is None or not self._pid_pending:
            return
        waiting = []
        for cr in self._pid_pending:
            pid = pid_of(cr.job_id) if cr.job_id else None
            if pid is not None and pid > 0:
                self.store.update_job(cr.store_key, pid=pid)
            elif pid is not None:
                waiting.append(cr)  # still starting
        self._pid_pending = waiting

    def run(self, top: WorkflowRun) -> WorkflowRun:
        """Run ``top`` (already stored) until it is Succeeded, Failed or Aborted."""
        self.store.update_workflow(top.id, status=RUNNING, started=self.clock())
        self.store.add_event(top.id, "status", RUNNING)
        self.start_workflow(top)
        aborted = False
        while self.open:
            self._expand()
            self._drain()
            if not self.open:
                break
            if self.abort_requested and not aborted:
                aborted = True
                self._abort_all()
            self._dispatch()
            if self.on_tick is not None:
                self.on_tick(self)
            if not self.running:
                if self.queue or self.ready or self.maybe_done or self.expansions:
                    continue
                self._stalled()
                continue
            pending = self.store.pending()
            self._flush()
            timeout = self.flush_interval if pending else self.poll_interval
            changed = self.backend.wait(timeout)
            ids = list(self.running) if changed is None else changed
            if ids:
                for job_id, state in self.backend.poll(ids).items():
                    cr = self.running.get(job_id)
                    if cr is not None and state.status.terminal:
                        self._job_ended(cr, state)
        self._flush(force=True)
        if self.on_tick is not None:
            self.on_tick(self)
        return top

    def _stalled(self) -> None:
        """Nothing runs or waits: every open workflow is finished as it stands."""
        for run in sorted(self.open, key=lambda r: -_depth(r)):
            if run in self.open and run.active == 0:
                self._finish_workflow(run)
                self._drain()
                return
        if not self.open:
            return
        # open workflows with active children only: finish the deepest
        deepest = max(self.open, key=_depth)
        deepest.active = 0
        self._finish_workflow(deepest)


class _Expansion:
    """A scatter being expanded shard by shard, and the values its shards produced."""

    __slots__ = ("engine", "block", "node", "plan", "items", "next", "results", "left")

    def __init__(
        self,
        engine: Engine,
        block: BlockRun,
        node: Tree.Scatter,
        plan: BlockPlan,
        items: list[Value.Base],
    ) -> None:
        self.engine = engine
        self.block = block
        self.node = node
        self.plan = plan
        self.items = items
        self.next = 0
        self.results: list[tuple[Value.Base, ...]] = [()] * len(items)
        self.left = len(items)

    def shard_done(self, shard: BlockRun) -> None:
        """Keep only the shard's products (its environment is dropped); gather after the last."""
        env = shard.env
        self.results[shard.path[-1]] = tuple(env[name] for name, _ in self.plan.produced)
        self.left -= 1
        if not self.left:
            self.items = []
            self.engine._gather(self)


def _depth(run: WorkflowRun) -> int:
    d = 0
    while run.parent is not None:
        run = run.parent.wf
        d += 1
    return d


def _registry() -> Any:
    """The file-system registry, imported on first use (it loads botocore: ~10 MB)."""
    from ironside.filesystems import registry

    return registry


def _fetch(uri: str, local: str) -> None:
    _registry().fetch(uri, local)


def _nonempty(path: str) -> bool:
    try:
        if path.startswith("s3://"):
            return _registry().s3().info(path).size > 0
        return os.path.getsize(path) > 0
    except OSError:
        return False
