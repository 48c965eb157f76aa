"""The call-attempt lifecycle: evaluate, look up the call cache, stage, submit, finish, retry.

Order of one attempt: task environment and runtime attributes are evaluated and
checked by the backend; the call cache is asked *before* any input is staged
(a hit copies nothing in); on a miss the backend stages the inputs, the script
is rendered and submitted. When the job ends its return code and outputs
decide success; every failure goes through one retry policy (``fail``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from WDL import Env, Value

from ironside.backends.base import Backend, JobRequest, JobState, JobStatus
from ironside.engine import calls as C
from ironside.engine.cache_step import CacheStep
from ironside.engine.fingerprint import fingerprint
from ironside.engine.recorder import Recorder
from ironside.engine.runs import CallRun
from ironside.errors import BadRuntimeAttribute
from ironside.filesystems.dispatch import FileSystems
from ironside.store.db import is_store_fault
from ironside.store.status import CallStatus
from ironside.tasks import ScriptSpec, render_script
from ironside.wdl.values import dumps

log = logging.getLogger("ironside.engine")

Outputs = Env.Bindings[Value.Base]


@dataclass
class AttemptHooks:
    """What the scheduler does when an attempt ends."""

    succeeded: Callable[[CallRun, Outputs], None]  # outputs into the graph
    retry: Callable[[CallRun], None]  # queue the next attempt
    failed: Callable[[CallRun, str], None]  # the call failed for good
    aborted: Callable[[CallRun, str], None]


class CallAttempts:
    """Runs call attempts on one backend, recording each step."""

    def __init__(
        self,
        backend: Backend,
        recorder: Recorder,
        cache: CacheStep,
        files: FileSystems,
        default_runtime: Mapping[str, Any],
        hooks: AttemptHooks,
    ) -> None:
        self.backend = backend
        self.recorder = recorder
        self.cache = cache
        self.files = files
        self.libs = C.TaskStdLibs(files)
        self.default_runtime = dict(default_runtime)
        self.hooks = hooks
        #: new attempts after lost ones (process or host gone), Cromwell's system.max-retries
        self.max_system_retries = 3
        self.counts: dict[str, int] = dict(queued=0, running=0, done=0, failed=0, cached=0)

    # ---- starting -----------------------------------------------------------------------------
    def prepare(self, cr: CallRun) -> JobRequest | None:
        """Evaluate, look up the cache, stage, render; record the intent. None: ended already.

        The intent row is only queued: the scheduler flushes it before ``submit``.
        """
        if cr.wf.resume is not None and cr.attempt == 1 and self._resume(cr):
            return None
        plan = cr.plan
        assert plan is not None
        cr.call_root = call_root(cr)
        ex = os.path.join(cr.call_root, "execution")
        env = C.task_env(self.libs, plan, cr.provided, ex)
        cr.env = env
        defaults = self.default_runtime | cr.wf.options.default_runtime_attributes
        cr.runtime = C.eval_runtime(self.libs, plan, env, ex, defaults)
        cr.runtime.update(C.runtime_overrides(plan, cr))  # set in the inputs JSON: they win
        if cr.memory_factor != 1.0:
            cr.runtime["memory"] = C.scaled_memory(cr.runtime.get("memory"), cr.memory_factor)
        self._check_runtime(cr)
        cr.inputs_json = dumps({d.name: env[d.name].json for d in plan.decls})
        if self.cache.enabled and self._cache_hit(cr, ex):
            return None
        cmd_env, transfers = self._stage_inputs(cr, env)
        cmd_env = C.with_task_info(plan, cmd_env, cr.runtime, cr.attempt, cr.key)
        cr.command = C.render_command(self.libs, plan, cmd_env, ex)
        localizer = self.backend.localizer
        upload = C.upload_plan(self.libs, plan, env) if localizer is not None else None
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
        cr.started = self.recorder.clock()
        self._intent(cr)
        return request

    def _intent(self, cr: CallRun) -> None:
        self.recorder.attempt_intent(cr)
        cr.intent_recorded = True

    def submit_all(self, crs: Sequence[CallRun]) -> Iterator[tuple[CallRun, str | Exception]]:
        """Adopt (after a restart) or submit the attempts' jobs, the fresh ones in one
        backend call (``Backend.submit_all``, which may group them).

        Yields each attempt with its job id (recorded) or the exception the backend
        answered (``SubmitLater``, ``BadRuntimeAttribute``, any other), as each is known.
        """
        fresh: list[CallRun] = []
        for cr in crs:
            assert cr.request is not None
            try:
                job_id = self.backend.recover(cr.request, cr.job_id) if cr.recover else None
            except Exception as exc:  # SubmitLater (ListJobs throttled), or the attempt failed
                yield cr, exc
                continue
            if job_id is None:
                fresh.append(cr)
                continue
            self._submitted(cr, job_id)
            yield cr, job_id
        requests = [cr.request for cr in fresh if cr.request is not None]
        for i, outcome in self.backend.submit_all(requests):
            if isinstance(outcome, str):
                self._submitted(fresh[i], outcome)
            yield fresh[i], outcome

    def _submitted(self, cr: CallRun, job_id: str) -> None:
        cr.job_id = job_id
        cr.request = None
        self.counts["running"] += 1
        self.recorder.attempt_submitted(cr, None if cr.recover else self.backend.pid(job_id))
        self._backend_metadata(cr)

    def _check_runtime(self, cr: CallRun) -> None:
        try:
            self.backend.validate_runtime(cr.runtime)
        except BadRuntimeAttribute as exc:
            raise C.CallFailure(f"{cr.key}: {exc}") from None

    def _stage_inputs(self, cr: CallRun, env: Outputs) -> tuple[Outputs, list[Any]]:
        try:
            return self.backend.stage_inputs(env, cr.call_root)
        except (OSError, ValueError) as exc:
            raise C.CallFailure(f"{cr.key}: inputs: {exc}") from None

    def _cache_hit(self, cr: CallRun, ex: str) -> bool:
        assert cr.plan is not None and cr.env is not None
        env = C.with_task_info(cr.plan, cr.env, cr.runtime, cr.attempt, cr.key)
        cr.command = C.render_command(self.libs, cr.plan, env, ex)
        fp = fingerprint(cr, self.backend.name)
        cr.fingerprint = fp
        hit = self.cache.lookup(fp)
        if hit is None:
            return False
        outputs = C.outputs_from_json(cr.plan, hit.outputs)
        cr.started = self.recorder.clock()
        self._intent(cr)
        self.counts["cached"] += 1
        self._succeeded(cr, outputs, cached=True)
        return True

    def _resume(self, cr: CallRun) -> bool:
        """Resuming: reuse a finished attempt, or pick up where the last attempt was."""
        assert cr.wf.resume is not None
        rows = cr.wf.resume.get((cr.key, cr.shard))
        if not rows:
            # its intent would be stored had it been submitted: it never started
            return False
        last = rows[-1]
        if last["status"] == CallStatus.DONE:
            cr.attempt = last["attempt"]
            cr.call_root = last["call_root"]
            assert cr.plan is not None
            outputs = C.outputs_from_json(cr.plan, json.loads(last["outputs"] or "{}"))
            self.counts["done"] += 1
            self.hooks.succeeded(cr, outputs)
            return True
        if last["status"] in (CallStatus.RUNNING, CallStatus.STARTING):
            cr.recover = True  # ask the backend whether it started, and how it is
            cr.attempt = last["attempt"]
            cr.job_id = last["job_id"]
        else:
            cr.attempt = last["attempt"] + 1  # the next attempt never started
            cr.job_id = None
        return False

    def _backend_metadata(self, cr: CallRun) -> None:
        info = self.backend.call_metadata(cr.job_id) if cr.job_id else None
        if info:
            self.recorder.call_metadata(cr, info)

    # ---- ending -------------------------------------------------------------------------------
    def job_ended(self, cr: CallRun, state: JobState) -> None:
        """The attempt's job reached a terminal state: succeed, retry or fail the call."""
        self.counts["running"] -= 1
        if state.status == JobStatus.ABORTED or cr.wf.aborting():
            self.recorder.attempt_aborted(cr)
            self.hooks.aborted(cr, state.reason or "aborted")
            return
        self._backend_metadata(cr)
        if state.status != JobStatus.SUCCEEDED or state.return_code is None:
            self._more_memory(cr, state)
            if state.lost and cr.system_retries < self.max_system_retries:
                cr.system_retries += 1
                reason = f"{state.reason or 'job lost'} (system retry {cr.system_retries})"
                self.fail(cr, reason, retry=True, free=True)
                return
            ex = os.path.join(cr.call_root, "execution")
            self.fail(
                cr,
                C.with_stderr(state.reason or "job failed", ex),
                retry=True,
                free=state.retryable,
            )
            return
        rc = state.return_code
        ex = os.path.join(cr.call_root, "execution")
        if not C.return_code_ok(rc, cr.runtime):
            failed = f"{cr.key} failed: return code {rc} (see {ex}/stderr)"
            self.fail(cr, C.with_stderr(failed, ex), rc=rc)
            return
        if C.truthy(cr.runtime.get("failOnStderr")) and self._nonempty(os.path.join(ex, "stderr")):
            self.fail(cr, f"{cr.key} failed: failOnStderr and stderr is not empty", rc=rc)
            return
        assert cr.plan is not None and cr.env is not None
        try:
            env = C.with_task_info(cr.plan, cr.env, cr.runtime, cr.attempt, cr.key, rc)
            outputs = C.eval_outputs(self.libs, cr.plan, env, ex)
        except C.CallFailure as exc:
            self.fail(cr, f"{cr.key} failed: {exc}", rc=rc, retry=False)
            return
        self.counts["done"] += 1
        self._succeeded(cr, outputs, rc=rc)

    def _succeeded(
        self, cr: CallRun, outputs: Outputs, rc: int | None = None, cached: bool = False
    ) -> None:
        out_json = {b.name: b.value.json for b in outputs}
        self.recorder.attempt_succeeded(cr, out_json, rc, cached)
        if cr.fingerprint is not None and not cached:
            self._record_in_cache(cr, out_json)
        cr.env = None
        self.hooks.succeeded(cr, outputs)

    def _record_in_cache(self, cr: CallRun, outputs: dict[str, Any]) -> None:
        """Offer the result to the call cache; a store fault loses the entry, not the call."""
        try:
            self.cache.record(cr.fingerprint, outputs)
        except Exception as exc:
            if not is_store_fault(exc):
                raise
            log.warning("%s: not recorded in the call cache (store fault: %s)", cr.key, exc)

    def fail(
        self,
        cr: CallRun,
        message: str,
        rc: int | None = None,
        retry: bool = True,
        free: bool = False,
    ) -> None:
        """The one retry policy: ``maxRetries`` attempts, ``free`` ones (Spot) not counted."""
        max_retries = C.int_attr(cr.runtime.get("maxRetries"), 0)
        can_retry = retry and (free or cr.attempt <= max_retries) and not cr.wf.stopping()
        status = CallStatus.RETRYABLE_FAILURE if can_retry else CallStatus.FAILED
        if cr.job_id is not None or cr.call_root:
            self.recorder.attempt_failed(cr, status, message, rc)
        if can_retry:
            log.warning("%s attempt %d failed, retrying: %s", cr.key, cr.attempt, message)
            cr.attempt += 1
            cr.job_id = None
            cr.recover = False
            cr.request = None
            cr.intent_recorded = False
            self.hooks.retry(cr)
            return
        log.error("%s", message)
        self.counts["failed"] += 1
        self.hooks.failed(cr, message)

    def _more_memory(self, cr: CallRun, state: JobState) -> None:
        """Out of memory with ``memory_retry_multiplier``: the next attempt asks for more."""
        factor = cr.wf.options.raw.get("memory_retry_multiplier")
        if (state.reason or "").startswith("OutOfMemory") and factor:
            try:
                cr.memory_factor *= float(factor)
            except (TypeError, ValueError):
                log.warning("memory_retry_multiplier %r is not a number", factor)

    def _nonempty(self, path: str) -> bool:
        try:
            return self.files.size(path) > 0
        except OSError:
            return False


def call_root(cr: CallRun) -> str:
    """The attempt's directory in Cromwell's layout: call-<name>/shard-<i>/attempt-<n>."""
    parts = [cr.wf.root, "call-" + cr.call.name]
    parts += [f"shard-{i}" for i in cr.block.path]
    if cr.attempt > 1:
        parts.append(f"attempt-{cr.attempt}")
    return os.path.join(*parts)
