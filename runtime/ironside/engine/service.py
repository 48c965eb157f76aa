"""``WorkflowService``: the engine as a service, hosting every workflow on one scheduler.

``ironside run`` is a service with one workflow, run in the foreground
(``run_foreground``); ``ironside server`` is a service fed by HTTP, its
scheduler on a thread of its own (``start``). Either way there is one store,
one backend, one ``FileSystems`` and one call-cache step, all built by the
composition root (``ironside.assembly``) and handed in.

Submission: ``prepare`` (the one pipeline: parse, typecheck, bind inputs, parse
options, the backend's option checks), then ``submit`` stores it and admits it.
At most ``max_workflows`` top-level workflows run at once (Cromwell's
``system.max-concurrent-workflows``); the rest wait in order of submission.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ironside import failpoints
from ironside.backends.base import Backend
from ironside.engine import submit as S
from ironside.engine.cache_step import CacheStep
from ironside.engine.finalize import copy_call_logs, copy_outputs, write_workflow_log
from ironside.engine.runs import WorkflowRun
from ironside.engine.scheduler import Engine
from ironside.errors import UserError, WorkflowStateConflict
from ironside.filesystems.dispatch import FileSystems
from ironside.store.db import Store
from ironside.store.status import TERMINAL, UNFINISHED, WorkflowStatus
from ironside.wdl.reach import Confinement

log = logging.getLogger("ironside.service")


class WorkflowService:
    """Validates, stores and runs workflows; one scheduler, one backend for all of them."""

    def __init__(
        self,
        store: Store,
        engine_store: Store,
        backend: Backend,
        files: FileSystems,
        *,
        root: str,
        job_limit: int,
        default_runtime: dict[str, Any] | None = None,
        cache: CacheStep | None = None,
        max_workflows: int = 5000,
        max_system_retries: int = 3,
        store_patience: float = 600.0,
        poll_interval: float = 1.0,
        flush_interval: float = 0.2,
        on_close: Callable[[], None] | None = None,
        confinement: Confinement | None = None,
    ) -> None:
        """``store`` serves API threads; ``engine_store`` (same database) the scheduler's writes.

        ``confinement``: what a submission may reach and cost (default: ``ironside run``'s)."""
        self.store = store
        self.confinement = confinement or Confinement()
        self.backend = backend
        self.files = files
        self.root = root
        self.max_workflows = max(1, max_workflows)
        self.engine = Engine(
            engine_store,
            backend,
            job_limit,
            default_runtime=default_runtime,
            cache=cache,
            poll_interval=poll_interval,
            flush_interval=flush_interval,
            files=files,
        )
        self.engine.attempts.max_system_retries = max_system_retries
        self.engine.store_health.patience = store_patience
        self.engine.finalizer = self._finalize
        self.engine.on_finished = self._finished
        self._on_close = on_close
        self._lock = threading.Lock()
        self._admitted: set[str] = set()
        self._waiting: deque[tuple[str, S.Submission, bool]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- submission -----------------------------------------------------------------------
    def prepare(
        self,
        source: str,
        url: str,
        inputs: Any,
        options: Any,
        labels: Any = None,
        imports_zip: bytes | None = None,
        where: S.SubmissionWhere | None = None,
    ) -> S.Submission:
        """Validate a submission with every subsystem's rules; nothing is stored."""
        sub = S.build_submission(
            source, url, inputs, options, labels, imports_zip, where, self.confinement
        )
        self.validate(sub)
        return sub

    def validate(self, sub: S.Submission) -> None:
        """The backend's checks of the workflow options (AWS Batch: job role, script prefix)."""
        self.backend.validate_options(sub.options.raw)

    def submit(self, sub: S.Submission, wf_id: str | None = None, on_hold: bool = False) -> str:
        """Store a validated submission and (unless ``on_hold``) admit it; return its id."""
        status = WorkflowStatus.ON_HOLD if on_hold else WorkflowStatus.SUBMITTED
        wf_id = self.store_only(sub, wf_id, status)
        if not on_hold:
            self._admit(wf_id, sub, resume=False)
        return wf_id

    def store_only(
        self,
        sub: S.Submission,
        wf_id: str | None = None,
        status: WorkflowStatus = WorkflowStatus.SUBMITTED,
    ) -> str:
        """Store a validated submission without running it."""
        failpoints.hit("validated")
        backend = self.backend.name
        wf_id = S.store_submission(self.store, sub, backend, self.root, wf_id=wf_id, status=status)
        self.store.flush()  # its warning events
        failpoints.hit("stored")
        return wf_id

    def _admit(self, wf_id: str, sub: S.Submission, resume: bool) -> None:
        with self._lock:
            if len(self._admitted) >= self.max_workflows:
                self._waiting.append((wf_id, sub, resume))
                return
            self._admitted.add(wf_id)
        self.engine.admit(self._run_of(wf_id, sub, resume))

    def _run_of(self, wf_id: str, sub: S.Submission, resume: bool) -> WorkflowRun:
        root = self.store.workflow(wf_id)["root"]
        run = S.top_run(sub, wf_id, root, resume=self.store if resume else None, files=self.files)
        self.confinement.apply(run.stdlib)  # its path policy and a fresh budget
        return run

    def _finished(self, run: WorkflowRun) -> None:
        with self._lock:
            self._admitted.discard(run.id)
            nxt = self._waiting.popleft() if self._waiting else None
            if nxt is not None:
                self._admitted.add(nxt[0])
        if nxt is not None:
            self.engine.admit(self._run_of(*nxt))

    def _finalize(self, run: WorkflowRun, outputs: dict[str, Any]) -> dict[str, Any]:
        outputs = copy_outputs(outputs, run.root, run.options)
        copy_call_logs(self.engine.store.calls(run.id), run.root, run.options)
        write_workflow_log(run.id, self.engine.store.events(run.id), run.options)
        return outputs

    # ---- running ----------------------------------------------------------------------------
    def run_foreground(self, wf_id: str, sub: S.Submission, resume: bool = False) -> WorkflowRun:
        """Run one stored workflow on this thread until it ends (``ironside run``)."""
        with self._lock:
            self._admitted.add(wf_id)
        return self.engine.run(self._run_of(wf_id, sub, resume))

    def start(self) -> None:
        """Pick up the stored workflows left unfinished, then run the scheduler on a thread."""
        self.resume_unfinished()
        self._thread = threading.Thread(target=self._serve, name="ironside-engine", daemon=True)
        self._thread.start()

    def resume_unfinished(self) -> None:
        """Resume Running/Aborting workflows, start Submitted ones (in order of submission)."""
        rows = self.store.workflows(status=list(UNFINISHED))
        for row in sorted(rows, key=lambda r: r["submitted"] or 0):
            wf_id = row["id"]
            try:
                sub, _ = S.load_stored(self.store, wf_id)
            except UserError as exc:
                self._set_status(wf_id, WorkflowStatus.FAILED, failures=_failures(str(exc)))
                continue
            self._admit(wf_id, sub, resume=row["status"] != WorkflowStatus.SUBMITTED)
            if row["status"] == WorkflowStatus.ABORTING:
                self.engine.abort(wf_id)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.engine.loop(self._stop.is_set)
            except Exception:  # the scheduler must outlive any one fault
                log.exception("engine loop error; continuing in 1 s")
                self._stop.wait(1.0)

    def stop(self) -> None:
        """Stop the scheduler; running workflows are resumed at the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.engine.store.flush()
        self.close()

    def close(self) -> None:
        """Release the backend, file systems and database connections."""
        self.backend.close()
        self.files.close()
        if self._on_close is not None:
            self._on_close()

    # ---- changes asked for through the API ------------------------------------------------
    def abort(self, wf_id: str) -> WorkflowStatus:
        """Aborted at once when not admitted, Aborting while it runs; 403 once it ended."""
        with self._lock:
            status = WorkflowStatus(self.store.workflow(wf_id)["status"])
            if status in TERMINAL:
                raise WorkflowStateConflict(
                    f"Couldn't abort {wf_id} because workflow is in terminal state {status}"
                )
            waiting = [w for w in self._waiting if w[0] == wf_id]
            for w in waiting:
                self._waiting.remove(w)
            admitted = wf_id in self._admitted
        if admitted:
            self.engine.abort(wf_id)
            self._set_status(wf_id, WorkflowStatus.ABORTING)
            return WorkflowStatus.ABORTING
        if status in (WorkflowStatus.SUBMITTED, WorkflowStatus.ON_HOLD):
            self._set_status(wf_id, WorkflowStatus.ABORTED, ended=time.time())
            return WorkflowStatus.ABORTED
        self._set_status(wf_id, WorkflowStatus.ABORTING)  # resumed and aborted at next start
        return WorkflowStatus.ABORTING

    def release_hold(self, wf_id: str) -> WorkflowStatus:
        """On Hold -> Submitted (admitted); 403 otherwise."""
        status = self.store.workflow(wf_id)["status"]
        if status != WorkflowStatus.ON_HOLD:
            raise WorkflowStateConflict(
                f"Couldn't change status of workflow {wf_id} to 'Submitted' because the "
                f"workflow is not in 'On Hold' state (it is {status})"
            )
        self._set_status(wf_id, WorkflowStatus.SUBMITTED)
        sub, _ = S.load_stored(self.store, wf_id)
        self._admit(wf_id, sub, resume=False)
        return WorkflowStatus.SUBMITTED

    def _set_status(self, wf_id: str, status: WorkflowStatus, **values: Any) -> None:
        self.store.set_workflow_status(wf_id, status, **values)

    # ---- what the service holds -----------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Cromwell's status shape: the database as the API and the scheduler see it."""
        messages: list[str] = []
        try:
            self.store.ping()
        except Exception as exc:
            messages.append(f"cannot reach the database: {type(exc).__name__}")
        scheduler = self.engine.store_health
        if scheduler.paused:
            messages.append(f"the engine is paused until the store answers: {scheduler.last_error}")
        elif not scheduler.healthy:
            messages.append(f"the scheduler cannot write: {scheduler.last_error}")
        systems = {
            "Engine Database": {"ok": not messages, "messages": messages},
            self.backend.name: {"ok": True, "messages": []},
        }
        return {"ok": all(v["ok"] for v in systems.values()), "systems": systems}

    def running_workflows(self) -> int:
        """Top-level workflows admitted to the scheduler and not yet ended."""
        with self._lock:
            return len(self._admitted)


def _failures(message: str) -> str:
    return json.dumps([{"message": message, "causedBy": []}])
