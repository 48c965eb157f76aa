"""The recorder: every store write of the engine, as typed rows and events.

Writes are queued in the ``Store`` and flushed at most every ``flush_interval``
seconds (``flush``), so a 10,000-shard scatter means a few hundred commits,
not 20,000. Statuses are ``WorkflowStatus`` / ``CallStatus`` values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ironside.engine.runs import CallRun, WorkflowRun
from ironside.store.db import Store
from ironside.store.status import CallStatus, WorkflowStatus
from ironside.wdl.values import dumps, env_to_json


class Recorder:
    """Writes what the engine did into the store, batched."""

    def __init__(
        self,
        store: Store,
        backend_name: str,
        clock: Callable[[], float] = time.time,
        flush_interval: float = 0.2,
    ) -> None:
        self.store = store
        self.backend_name = backend_name
        self.clock = clock
        self.flush_interval = flush_interval
        self._last_flush = 0.0
        #: attempts being spawned, with their job row when it is not written yet
        self._pid_pending: list[tuple[CallRun, dict[str, Any] | None]] = []

    # ---- workflows --------------------------------------------------------------------------
    def workflow_started(self, run: WorkflowRun) -> None:
        """A top-level workflow is Running."""
        self.store.update_workflow(run.id, status=WorkflowStatus.RUNNING, started=self.clock())
        self.store.add_event(run.id, "status", WorkflowStatus.RUNNING)

    def workflow_inputs(self, run: WorkflowRun, shown: dict[str, Any]) -> None:
        """The workflow's inputs with defaults filled in, as metadata shows them."""
        names = run.input_names
        inputs = {names.key(k): v for k, v in shown.items()}
        inputs |= run.runtime_overrides.as_inputs(names)
        self.store.update_workflow(run.id, inputs=dumps(inputs))

    def workflow_finished(self, run: WorkflowRun, outputs: dict[str, Any] | None) -> None:
        """The workflow's final status, outputs and failures."""
        now = self.clock()
        self.store.update_workflow(
            run.id,
            status=run.status,
            ended=now,
            outputs=dumps(outputs) if outputs is not None else None,
            failures=dumps(run.failures) if run.failures else None,
        )
        self.store.add_event(run.id, "status", run.status, now)

    def sub_workflow_started(self, child: WorkflowRun, cr: CallRun, resuming: bool) -> None:
        """The sub-workflow's row and its parent's call row (or, resuming, Running again)."""
        if resuming:
            self.store.update_workflow(child.id, status=WorkflowStatus.RUNNING)
            return
        now = self.clock()
        self.store.add_workflow(
            {
                "id": child.id,
                "parent_id": cr.wf.id,
                "parent_call": cr.key,
                "parent_shard": cr.shard,
                "name": child.name,
                "status": WorkflowStatus.RUNNING,
                "workflow_url": "",
                "source": "",
                "imports_zip": None,
                "inputs": dumps(env_to_json(child.inputs, child.name + ".")),
                "options": "{}",
                "backend": self.backend_name,
                "root": child.root,
                "outputs": None,
                "failures": None,
                "submitted": now,
                "started": now,
                "ended": None,
            }
        )
        self.store.add_call(
            self._call_row(cr, now)
            | {
                "inputs": dumps({k: v.json for k, v in cr.provided.items()}),
                "runtime": None,
                "command": None,
                "sub_workflow_id": child.id,
            }
        )

    def sub_workflow_finished(self, cr: CallRun, child: WorkflowRun) -> None:
        """The parent's call row of a finished sub-workflow."""
        values: dict[str, Any] = {"ended": self.clock()}
        if child.status == WorkflowStatus.SUCCEEDED and child.outputs is not None:
            values["status"] = CallStatus.DONE
            values["outputs"] = dumps({b.name: b.value.json for b in child.outputs})
        else:
            values["status"] = child.status
        self.store.update_call(cr.store_key, **values)

    # ---- call attempts ------------------------------------------------------------------------
    def _call_row(self, cr: CallRun, started: float) -> dict[str, Any]:
        return {
            "workflow_id": cr.wf.id,
            "fqn": cr.key,
            "shard": cr.shard,
            "attempt": cr.attempt,
            "status": CallStatus.RUNNING,
            "backend": self.backend_name,
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
            "started": started,
            "ended": None,
        }

    def attempt_intent(self, cr: CallRun) -> None:
        """The attempt's row, Starting, before its job can start (flushed before submit).

        After a crash a Starting row means: ask the backend whether the job started
        (the local backend looks on disk, AWS Batch by the job's unique name).
        """
        row = self._call_row(cr, cr.started) | {"status": CallStatus.STARTING, "job_id": None}
        if cr.recover:
            # the row may exist already (stored before the restart)
            self.store.ensure_call(row)
        else:
            self.store.add_call(row)

    def attempt_submitted(self, cr: CallRun, pid: int | None) -> None:
        """Running with its job id, and the job row (``pid`` -1: still being spawned)."""
        self.store.update_call(cr.store_key, status=CallStatus.RUNNING, job_id=cr.job_id)
        if cr.job_id is None:
            return
        row = {
            "workflow_id": cr.wf.id,
            "fqn": cr.key,
            "shard": cr.shard,
            "attempt": cr.attempt,
            "backend": self.backend_name,
            "job_id": cr.job_id,
            "pid": pid if pid is not None and pid > 0 else None,
            "started": cr.started,
        }
        if cr.recover:  # adopted: its row may have been written before the restart
            self.store.ensure_job(row)
        elif pid is not None and pid <= 0:  # being spawned: the row waits for the pid
            self._pid_pending.append((cr, row))
        else:
            self.store.add_job(row)

    def attempt_succeeded(
        self, cr: CallRun, outputs: dict[str, Any], rc: int | None, cached: bool
    ) -> None:
        """Done, with outputs (and rc; ``cached``: the outputs came from the call cache)."""
        values: dict[str, Any] = dict(
            status=CallStatus.DONE, outputs=dumps(outputs), ended=self.clock()
        )
        if rc is not None:
            values["return_code"] = rc
        if cached:
            values["cached"] = True
        self.store.update_call(cr.store_key, **values)

    def attempt_failed(
        self, cr: CallRun, status: CallStatus, message: str, rc: int | None = None
    ) -> None:
        """Failed or RetryableFailure, with the message (a row is made if none was)."""
        if not cr.job_id and not cr.intent_recorded:
            cr.started = self.clock()
            self.attempt_intent(cr)
        self.store.update_call(
            cr.store_key,
            status=status,
            return_code=rc,
            ended=self.clock(),
            failures=dumps([{"message": message, "causedBy": []}]),
        )

    def attempt_aborted(self, cr: CallRun) -> None:
        """Aborted."""
        self.store.update_call(cr.store_key, status=CallStatus.ABORTED, ended=self.clock())

    def call_metadata(self, cr: CallRun, info: dict[str, Any]) -> None:
        """What the backend knows of the attempt's job, as a call-metadata event."""
        key = {"fqn": cr.key, "shard": cr.shard, "attempt": cr.attempt}
        self.store.add_event(cr.wf.id, "call-metadata", {**key, **info})

    def event(self, run: WorkflowRun, key: str, value: Any) -> None:
        """A workflow metadata event."""
        self.store.add_event(run.id, key, value)

    # ---- flushing -----------------------------------------------------------------------------
    def pending(self) -> bool:
        """Whether writes wait for a flush."""
        return self.store.pending()

    def flush(self, pid_of: Callable[[str], int | None], force: bool = False) -> None:
        """Write what is queued, at most every ``flush_interval`` unless ``force``."""
        now = time.monotonic()
        if force or now - self._last_flush >= self.flush_interval:
            self._record_pids(pid_of)
            self.store.flush()
            self._last_flush = now

    def since_flush(self) -> float:
        """Seconds since the last flush."""
        return time.monotonic() - self._last_flush

    def _record_pids(self, pid_of: Callable[[str], int | None]) -> None:
        """Job rows of spawned processes, with their pid (one INSERT, not INSERT + UPDATE,
        for a process started since the last flush); a row still without a pid is written
        without and updated later."""
        waiting: list[tuple[CallRun, dict[str, Any] | None]] = []
        for cr, row in self._pid_pending:
            pid = pid_of(cr.job_id) if cr.job_id else None
            known = pid is not None and pid > 0
            if row is not None:
                self.store.add_job({**row, "pid": pid} if known else row)
            elif known:
                self.store.update_job(cr.store_key, pid=pid)
            if pid is not None and not known:
                waiting.append((cr, None))  # still starting
        self._pid_pending = waiting
