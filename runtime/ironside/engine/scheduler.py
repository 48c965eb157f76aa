"""The scheduler: one loop that runs every workflow of the engine on one backend.

Single-threaded; other threads talk to it only through ``admit`` and ``abort``
(a queue read at every tick). One iteration (a *tick*): take new workflows and
aborts, expand scatters and evaluate every ready node (``WorkflowGraph``), start
queued calls while below the concurrent-job limit (``CallAttempts``), wait for
the backend, finish the calls whose jobs ended, flush the store (``Recorder``).

The job limit is the engine's, across all workflows, as Cromwell's
``concurrent-job-limit`` is per backend. Queued calls wait in one queue per
top-level workflow, served round-robin (``FairQueue``), and scatters expand in
turn: a workflow submitted after a 10,000-shard one gets the next free slot
after at most one call of each other workflow.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from WDL import Tree

from ironside import failpoints
from ironside.backends.base import Backend, SubmitLater
from ironside.engine import calls as C
from ironside.engine.attempts import AttemptHooks, CallAttempts, Outputs
from ironside.engine.cache_step import CacheStep, NoCache
from ironside.engine.graph import WorkflowGraph
from ironside.engine.plan import task_plan
from ironside.engine.recorder import Recorder
from ironside.engine.runs import ABORTED, FAILED, RUNNING, SUCCEEDED, BlockRun, CallRun, WorkflowRun
from ironside.errors import BadRuntimeAttribute
from ironside.filesystems.dispatch import FileSystems
from ironside.store.db import Store, is_store_fault
from ironside.wdl.values import env_to_json

log = logging.getLogger("ironside.engine")

#: Least time between two forced intent commits while jobs run (at most 20 commits a second).
INTENT_GAP = 0.05
#: Most attempts prepared for one backend call: their rendered scripts are held until
#: submitted (10,000 is also the most children an AWS Batch array job takes).
SUBMIT_BATCH = 10_000

#: Turns a succeeded top-level workflow's outputs into their final form (output copies).
Finalizer = Callable[[WorkflowRun, dict[str, Any]], dict[str, Any]]


class FairQueue:
    """Queued calls, one FIFO per top-level workflow, popped round-robin."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[CallRun]] = {}
        self._turns: deque[str] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[CallRun]:
        for q in self._queues.values():
            yield from q

    def push(self, cr: CallRun, front: bool = False) -> None:
        """Queue ``cr`` behind its workflow's other calls (``front``: before them)."""
        key = cr.wf.top_level.id
        q = self._queues.get(key)
        if q is None:
            q = self._queues[key] = deque()
            self._turns.append(key)
        if front:
            q.appendleft(cr)
        else:
            q.append(cr)
        self._size += 1

    def pop(self) -> CallRun:
        """The next call of the workflow whose turn it is."""
        key = self._turns.popleft()
        q = self._queues[key]
        cr = q.popleft()
        self._size -= 1
        if q:
            self._turns.append(key)
        else:
            del self._queues[key]
        return cr


class StoreHealth:
    """The scheduler's view of the store: backoff while it fails, one log line a minute.

    Down for longer than ``patience`` the engine pauses: no ticks (no polling, no
    submission), only a ping now and then, until the store answers again.
    """

    def __init__(
        self,
        max_delay: float = 10.0,
        patience: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_delay = max_delay
        self.patience = patience
        self.clock = clock
        self.failures = 0
        self.last_error = ""
        self.down_since: float | None = None
        self._last_log = 0.0
        self._said_paused = False

    @property
    def healthy(self) -> bool:
        """Whether the last store access of the scheduler worked."""
        return self.failures == 0

    @property
    def paused(self) -> bool:
        """Whether the store has been down for longer than the patience."""
        return self.down_since is not None and self.clock() - self.down_since > self.patience

    def failed(self, exc: BaseException) -> float:
        """Note a failure; the seconds to wait before trying again."""
        now = self.clock()
        self.failures += 1
        self.last_error = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        if self.down_since is None:
            self.down_since = now
        newly_paused = self.paused and not self._said_paused
        if self.failures == 1 or now - self._last_log >= 60 or newly_paused:
            self._last_log = now
            self._said_paused = self.paused
            state = (
                f"beyond system.store-patience ({self.patience:.0f} s): the engine is paused"
                if self.paused
                else "the engine retries"
            )
            log.warning(
                "store unavailable for %.0f s (%s); %s and keeps its state",
                now - self.down_since,
                self.last_error,
                state,
            )
        return min(self.max_delay, 0.25 * 2 ** min(self.failures, 10))

    def ok(self) -> None:
        """The store answered."""
        if self.failures:
            down = self.clock() - (self.down_since or self.clock())
            log.warning("store available again after %.0f s; the engine continues", down)
        self.failures = 0
        self.down_since = None
        self._said_paused = False


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
        files: FileSystems | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.job_limit = max(1, job_limit)
        self.clock = clock
        self.poll_interval = poll_interval
        self.files = files or FileSystems()
        self.recorder = Recorder(store, backend.name, clock, flush_interval)
        self.graph = WorkflowGraph(self._start_call)
        hooks = AttemptHooks(
            succeeded=self._call_succeeded,
            retry=lambda cr: self._enqueue(cr, front=True),
            failed=self._call_failed,
            aborted=self._call_aborted,
        )
        self.attempts = CallAttempts(
            backend, self.recorder, cache or NoCache(), self.files, default_runtime or {}, hooks
        )
        self.counts = self.attempts.counts
        self.queue = FairQueue()
        self.prepared: deque[CallRun] = deque()  # intent recorded, not yet submitted
        self._throttled = False  # the backend answered SubmitLater to the last submission
        self.running: dict[str, CallRun] = {}
        self.open: set[WorkflowRun] = set()
        self.tops: dict[str, WorkflowRun] = {}
        self.finalizer: Finalizer | None = None
        self.on_tick: Callable[[Engine], None] | None = None
        self.on_finished: Callable[[WorkflowRun], None] | None = None
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.store_health = StoreHealth()

    # ---- what other threads may call ------------------------------------------------------
    def admit(self, run: WorkflowRun) -> None:
        """Start ``run`` (a stored top-level workflow) at the next tick."""
        self._inbox.put(("start", run))

    def abort(self, workflow_id: str) -> None:
        """Abort a top-level workflow at the next tick (its running jobs are stopped)."""
        self._inbox.put(("abort", workflow_id))

    def abort_all(self) -> None:
        """Abort every workflow (``ironside run`` on SIGINT/SIGTERM)."""
        self._inbox.put(("abort", None))

    # ---- running --------------------------------------------------------------------------
    def run(self, top: WorkflowRun) -> WorkflowRun:
        """Run ``top`` (already stored) until it is Succeeded, Failed or Aborted."""
        self.admit(top)
        self.loop(lambda: top.ended)
        return top

    def loop(self, until: Callable[[], bool]) -> None:
        """Tick until ``until()``; idle (no open workflow) it waits for new work.

        A store fault (database down, locked, disk full) never ends the loop: the
        tick is tried again after a capped exponential backoff, with what the engine
        knows kept in memory and the writes kept queued.
        """
        while not until():
            if self.store_health.paused:
                self._wait_for_store()
                continue
            try:
                self._take_commands(wait=0.0 if self.open else self.poll_interval)
                if self.open:
                    self._tick()
                elif self.recorder.pending():
                    self.recorder.flush(self.backend.pid, force=True)
                self.store_health.ok()
            except Exception as exc:
                if not is_store_fault(exc):
                    raise
                time.sleep(self.store_health.failed(exc))
        self._final_flush(until)
        if self.on_tick is not None:
            self.on_tick(self)

    def _wait_for_store(self) -> None:
        """Paused: one ping, then the backoff when the store still does not answer."""
        try:
            self.store.ping()
        except Exception as exc:
            if not is_store_fault(exc):
                raise
            time.sleep(self.store_health.failed(exc))
            return
        self.store_health.ok()

    def _final_flush(self, until: Callable[[], bool]) -> None:
        while True:
            try:
                self.recorder.flush(self.backend.pid, force=True)
                self.store_health.ok()
                return
            except Exception as exc:
                if not is_store_fault(exc):
                    raise
                time.sleep(self.store_health.failed(exc))

    def _take_commands(self, wait: float) -> None:
        try:
            command, arg = self._inbox.get(timeout=wait) if wait else self._inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            if command == "start":
                self._start_top(arg)
            else:
                self._abort(arg)
            try:
                command, arg = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _tick(self) -> None:
        self._drain()
        if not self.open:
            return
        self._dispatch()
        if self.on_tick is not None:
            self.on_tick(self)
        if not self.running:
            graph = self.graph
            if self.queue or graph.ready or graph.maybe_done or graph.expansions:
                return
            self.recorder.flush(self.backend.pid)  # e.g. a run of cache hits reaches the store
            if self.prepared:  # throttled with nothing running: wait, then submit again
                time.sleep(min(self.poll_interval, 0.5))
                return
            self._stalled()
            return
        pending = self.recorder.pending()
        self.recorder.flush(self.backend.pid)
        timeout = self.recorder.flush_interval if pending else self.poll_interval
        if (self.prepared and not self._throttled) or self._can_prepare():
            timeout = min(timeout, INTENT_GAP)  # throttled: try again after a poll
        changed = self.backend.wait(timeout)
        ids = list(self.running) if changed is None else changed
        if ids:
            for job_id, state in self.backend.poll(ids).items():
                cr = self.running.get(job_id)
                if cr is not None and state.status.terminal:
                    del self.running[job_id]
                    self.attempts.job_ended(cr, state)

    def _drain(self) -> None:
        graph = self.graph
        graph.expand(2 * self.job_limit - len(self.queue))
        while graph.ready or graph.maybe_done:
            graph.run_ready()
            if graph.maybe_done:
                done = [r for r in graph.maybe_done if r.active == 0 and r in self.open]
                graph.maybe_done.clear()
                for run in done:
                    if run.top_done or run.failures or run.status != RUNNING:
                        self._finish_workflow(run)
                    elif not graph.ready and not run.active:
                        self._finish_workflow(run)

    def _dispatch(self) -> None:
        """Prepare queued calls up to the job limit, commit their intent, then submit them.

        Write-ahead: no job starts before its attempt's Starting row is in the store, so
        after a crash every attempt is either never started or known to the backend by
        its identity (the local backend's execution directory, Batch's job name). The
        intent commit is forced at most every ``INTENT_GAP`` s while jobs run; calls
        prepared meanwhile are submitted at the next tick.
        """
        self._prepare_more()
        if not self.prepared:
            return
        if self.running and self.recorder.since_flush() < INTENT_GAP:
            return
        self.recorder.flush(self.backend.pid, force=True)
        failpoints.hit("intent")
        self._submit_prepared()

    def _prepare_more(self) -> None:
        while self._can_prepare():
            cr = self.queue.pop()
            self.counts["queued"] -= 1
            if cr.wf.stopping():
                self.graph.dec_active(cr.wf)
                continue
            try:
                request = cr.request or self.attempts.prepare(cr)
            except C.CallFailure as exc:
                self.attempts.fail(cr, str(exc), retry=False)
                continue
            except Exception:  # e.g. the store is down during a cache lookup: try again
                self._enqueue(cr, front=True)
                raise
            if request is not None:
                cr.request = request
                self.prepared.append(cr)

    def _can_prepare(self) -> bool:
        """A queued call may be prepared now: under the job limit and the batch size."""
        return bool(
            self.queue
            and len(self.running) + len(self.prepared) < self.job_limit
            and len(self.prepared) < SUBMIT_BATCH
            and self._backend_has_room()
        )

    def _submit_prepared(self) -> None:
        """Every prepared attempt in one backend call (which may group them into arrays)."""
        crs = []
        while self.prepared:
            cr = self.prepared.popleft()
            if cr.wf.stopping():
                self.recorder.attempt_aborted(cr)
                self.graph.dec_active(cr.wf)
                continue
            crs.append(cr)
        later: list[CallRun] = []
        unanswered = {id(cr): cr for cr in crs}
        store_fault: Exception | None = None
        try:
            for cr, outcome in self.attempts.submit_all(crs):
                del unanswered[id(cr)]
                if isinstance(outcome, str):
                    self.running[outcome] = cr
                    failpoints.hit("submitted")
                elif isinstance(outcome, SubmitLater) or is_store_fault(outcome):
                    later.append(cr)  # throttled (or the store is down): poll, then try again
                    if not isinstance(outcome, SubmitLater):
                        store_fault = store_fault or outcome
                elif isinstance(outcome, BadRuntimeAttribute):
                    self.attempts.fail(cr, f"{cr.key}: {outcome}", retry=False)
                else:  # e.g. AccessDenied: this call fails, not the engine
                    log.warning("%s: submitting the job failed", cr.key, exc_info=outcome)
                    self.attempts.fail(cr, f"{cr.key}: submitting the job failed: {outcome}")
        finally:
            self.prepared.extendleft(reversed(later + list(unanswered.values())))
            self._throttled = bool(later)
        if store_fault is not None:
            raise store_fault

    def _backend_has_room(self) -> bool:
        free = self.backend.available_slots()
        return free is None or free > 0

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

    # ---- workflows ------------------------------------------------------------------------
    def _start_top(self, run: WorkflowRun) -> None:
        self.tops[run.id] = run
        self.recorder.workflow_started(run)
        self.recorder.flush(self.backend.pid, force=True)  # Running before any cache copy
        self.start_workflow(run)

    def start_workflow(self, run: WorkflowRun) -> None:
        """Bind inputs, start the top block."""
        self.open.add(run)
        self.recorder.workflow_inputs(run, {b.name: b.value.json for b in run.inputs})
        self.graph.start(run, lambda _b: self._top_done(run))

    def _top_done(self, run: WorkflowRun) -> None:
        run.top_done = True
        self.graph.maybe_done.add(run)

    def _record_inputs(self, run: WorkflowRun) -> None:
        """The inputs as given, with the defaults that were evaluated."""
        shown = {b.name: b.value.json for b in run.inputs}
        env = run.top.env if run.top is not None else None
        for decl in run.workflow.inputs or []:
            if env is not None and env.has_binding(decl.name):
                shown[decl.name] = env[decl.name].json
        self.recorder.workflow_inputs(run, shown)

    def _abort(self, workflow_id: str | None) -> None:
        targets = list(self.tops.values()) if workflow_id is None else [self.tops.get(workflow_id)]
        for top in targets:
            if top is None or top.ended:
                continue
            top.abort_requested = True
            top.no_new_calls = True
            for job_id, cr in list(self.running.items()):
                if cr.wf.top_level is top:
                    self.backend.abort(job_id)

    def _finish_workflow(self, run: WorkflowRun) -> None:
        if run.status == RUNNING:
            run.status = self._final_status(run)
        outputs = env_to_json(run.outputs, run.name + ".") if run.outputs is not None else None
        if run.parent is None and run.status == SUCCEEDED and outputs is not None:
            try:
                run.final_outputs = self._finalize(run, outputs)
            except Exception:
                self.graph.maybe_done.add(run)  # a store fault: finish it at a later tick
                raise
        self.open.discard(run)
        self._record_inputs(run)
        self.recorder.workflow_finished(run, outputs)
        run.ended = True
        log.info("workflow %s %s %s", run.name, run.id, run.status)
        if run.parent is not None:
            self._sub_workflow_done(run.parent, run)
            return
        self.tops.pop(run.id, None)
        if self.on_finished is not None:
            self.on_finished(run)

    def _final_status(self, run: WorkflowRun) -> Any:
        if run.aborting():
            return ABORTED
        if not run.top_done or run.failures:
            if not run.failures:
                run.fail("workflow did not complete")
            return FAILED
        try:
            run.outputs = self.graph.outputs(run)
        except C.CallFailure as exc:
            run.fail(str(exc))
            return FAILED
        return SUCCEEDED

    def _finalize(self, run: WorkflowRun, outputs: dict[str, Any]) -> dict[str, Any]:
        """Output copies before Succeeded is recorded; a copy that fails fails the workflow."""
        if self.finalizer is None:
            return outputs
        self.recorder.flush(self.backend.pid, force=True)  # finalizers read the call rows
        try:
            return self.finalizer(run, outputs)
        except OSError as exc:
            run.status = FAILED
            run.fail(f"copying the workflow's outputs failed: {exc}")
            return outputs

    # ---- calls ----------------------------------------------------------------------------
    def _start_call(self, block: BlockRun, call: Tree.Call) -> None:
        run = block.wf
        provided = dict(run.call_overrides.get(call.name, ()))
        for name, expr in call.inputs.items():
            try:
                provided[name] = expr.eval(block.env, run.stdlib)
            except C.EVAL_ERRORS as exc:
                raise C.CallFailure(f"{C.where(expr)}: {exc}") from None
        C.admit_call(run.stdlib, call, provided)  # ironside.limits and the path policy
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
        self._enqueue(cr)

    def _enqueue(self, cr: CallRun, front: bool = False) -> None:
        self.counts["queued"] += 1
        self.queue.push(cr, front=front)

    def _call_succeeded(self, cr: CallRun, outputs: Outputs) -> None:
        self.graph.call_finished(cr, outputs)
        failpoints.hit("call-done")

    def _call_failed(self, cr: CallRun, message: str) -> None:
        cr.block.failed = True
        cr.wf.fail(message)
        self.graph.dec_active(cr.wf)

    def _call_aborted(self, cr: CallRun, reason: str) -> None:
        cr.wf.failures.append({"message": f"{cr.key} aborted: {reason}", "causedBy": []})
        self.graph.dec_active(cr.wf)

    # ---- sub-workflows --------------------------------------------------------------------
    def _start_sub_workflow(self, cr: CallRun) -> None:
        from ironside.engine.submit import child_run  # circular at import time

        child, resuming = child_run(cr, self.files, self.store)
        cr.child = child
        self.recorder.sub_workflow_started(child, cr, resuming)
        self.start_workflow(child)

    def _sub_workflow_done(self, cr: CallRun, child: WorkflowRun) -> None:
        self.recorder.sub_workflow_finished(cr, child)
        if child.status == SUCCEEDED and child.outputs is not None:
            self.graph.call_finished(cr, child.outputs)
            return
        cr.block.failed = True
        if child.status == ABORTED:
            cr.wf.failures.append({"message": f"{cr.key} aborted", "causedBy": []})
        else:
            cr.wf.fail(f"sub-workflow {cr.key} failed", child.failures)
        self.graph.dec_active(cr.wf)


def _depth(run: WorkflowRun) -> int:
    d = 0
    while run.parent is not None:
        run = run.parent.wf
        d += 1
    return d
