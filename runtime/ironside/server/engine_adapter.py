"""``EnginePort`` over Ironside's engine: the store, the scheduler and a pool of runners.

Each top-level workflow runs to its end on one runner thread, with its own
``Engine``, backend and ``Store`` queue over the shared database (so each
workflow's batched writes stay in order). A dispatcher hands queued workflow
ids to at most ``max_workflows`` runners. At start, every top-level workflow
left ``Running``/``Aborting`` is resumed through the engine's resume path (its
finished calls are not rerun, running jobs are re-attached) and every
``Submitted`` one is queued again.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from typing import Any

from sqlalchemy import func, select, update

from ironside.backends.selection import (
    engine_job_limit,
    is_aws_batch,
    make_backend,
    validate_options,
)
from ironside.callcache.diff import CallSpec
from ironside.config import ProviderSettings, Settings, load_settings
from ironside.errors import BadWorkflow, UserError, WorkflowStateConflict
from ironside.server.engine_port import TERMINAL, BackendsInfo, WorkflowIdTaken, WorkflowSummary
from ironside.server.submission import Submission
from ironside.store.db import Store, open_store
from ironside.store.models import Call, Label, Workflow

log = logging.getLogger("ironside.server.runner")
STOP = ""


class StoreEngine:
    """The engine service the REST server drives (see ``EnginePort``)."""

    def __init__(self, settings: Settings, store: Store, max_workflows: int = 4) -> None:
        self.settings = settings
        self.provider: ProviderSettings = settings.provider()
        self.store = store
        # the backend ``ironside run`` would pick; one instance checks options at submission
        # (``BadConfig`` here stops start-up); each workflow runs on a backend of its own
        self.options_backend: Any = None
        if is_aws_batch(self.provider):
            self.options_backend = make_backend(self.provider)
        # one call cache for all runners; each engine gets it with its own metadata sink
        self.cache_step: Any = None
        if settings.call_caching_enabled:  # the call-cache package loads botocore: only when on
            from ironside.callcache.engine_setup import cache_step_from_settings
            from ironside.filesystems import registry

            s3 = registry.s3().client  # the engine's S3 client (AWS Batch: the backend's)
            self.cache_step = cache_step_from_settings(
                settings, self.provider, store.engine, s3_client=s3
            )
        self.max_workflows = max(1, max_workflows)
        self._queue: queue.Queue[str] = queue.Queue()
        self._engines: dict[str, Any] = {}  # workflow id -> its Engine (None while starting)
        self._abort_pending: set[str] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Queue the stored workflows left unfinished, then start the runner threads."""
        for row in self.store.workflows(status=["Running", "Aborting", "Submitted"]):
            self._queue.put(row["id"])
        for i in range(self.max_workflows):
            t = threading.Thread(target=self._runner, name=f"ironside-runner-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop taking work; running workflows are left to resume at the next start."""
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(STOP)
        self.store.flush()
        if self.options_backend is not None:
            self.options_backend.close()

    # ---- submission ------------------------------------------------------------------------
    def submit(self, submission: Submission) -> tuple[str, str]:
        """Validate with the engine's own rules, store, queue; return (id, status)."""
        from sqlalchemy.exc import IntegrityError

        from ironside.engine import submit as S
        from ironside.engine.options import parse_options
        from ironside.wdl.loader import load_document

        path = self._source_path(submission)
        doc = load_document(path, submission.dependencies, source_text=submission.source)
        if doc.workflow is None:
            raise BadWorkflow("workflowSource: no workflow to run (only tasks)")
        options = parse_options(submission.options, "workflowOptions")
        if self.options_backend is not None:  # AWS Batch: job role, script prefix
            validate_options(self.options_backend, options.raw)
        sub = S.Submission(
            doc=doc,
            workflow=doc.workflow,
            inputs=S.bind_inputs(doc.workflow, submission.inputs, "workflowInputs"),
            options=options,
            labels=submission.labels,
            source=submission.source,
            url=path,
            imports_zip=submission.dependencies,
        )
        status = "On Hold" if submission.on_hold else "Submitted"
        try:
            wf_id = S.store_submission(
                self.store,
                sub,
                self.provider.name,
                self.provider.root,
                wf_id=submission.requested_id,
                status=status,
            )
        except IntegrityError:
            raise WorkflowIdTaken(
                f"Workflow ID {submission.requested_id} is already in use"
            ) from None
        if status == "Submitted":
            self._queue.put(wf_id)
        return wf_id, status

    def _source_path(self, submission: Submission) -> str:
        if submission.workflow_url.startswith("file://"):
            from urllib.parse import unquote, urlsplit

            return unquote(urlsplit(submission.workflow_url).path)
        return os.path.join(os.path.abspath(self.provider.root), "submitted.wdl")

    # ---- running ---------------------------------------------------------------------------
    def _runner(self) -> None:
        while True:
            wf_id = self._queue.get()
            if wf_id == STOP or self._stopping.is_set():
                return
            try:
                self._run_one(wf_id)
            except Exception:  # a broken workflow must not take the runner down
                log.exception("workflow %s: runner error", wf_id)
                with self._lock:
                    self._engines.pop(wf_id, None)
                self._fail(wf_id, "internal error while running the workflow (see server log)")

    def _run_one(self, wf_id: str) -> None:
        from ironside.engine import submit as S
        from ironside.engine.finalize import copy_call_logs, copy_outputs
        from ironside.engine.scheduler import Engine

        with self._lock:  # claim it: an abort from now on reaches this runner
            row = self.store.workflow(wf_id)
            if row["status"] not in ("Submitted", "Running", "Aborting"):
                return
            self._engines[wf_id] = None
        resuming = row["status"] in ("Running", "Aborting")
        try:
            sub, row = S.load_stored(self.store, wf_id)
        except UserError as exc:
            with self._lock:
                self._engines.pop(wf_id, None)
            self._fail(wf_id, str(exc))
            return
        store = Store(self.store.engine)
        backend = make_backend(self.provider)
        engine = Engine(
            store,
            backend,
            engine_job_limit(self.provider),
            default_runtime=self.provider.default_runtime_attributes,
            cache=self._cache_for(store),
        )
        with self._lock:
            engine.abort_requested = row["status"] == "Aborting" or wf_id in self._abort_pending
            self._abort_pending.discard(wf_id)
            self._engines[wf_id] = engine
        try:
            run = S.top_run(sub, wf_id, row["root"], resume=store if resuming else None)
            engine.run(run)
            if run.status == "Succeeded":
                outputs = json.loads(store.workflow(wf_id)["outputs"] or "{}")
                copy_outputs(outputs, row["root"], sub.options)
                copy_call_logs(store.calls(wf_id), row["root"], sub.options)
        finally:
            with self._lock:
                self._engines.pop(wf_id, None)
            store.flush()
            backend.close()

    def _cache_for(self, store: Store) -> Any:
        """The shared cache step writing its metadata into ``store`` (None: caching off)."""
        if self.cache_step is None:
            return None
        from ironside.callcache.engine_setup import for_store

        return for_store(self.cache_step, store)

    def _fail(self, wf_id: str, message: str) -> None:
        failures = json.dumps([{"message": message, "causedBy": []}])
        self._set_status(wf_id, "Failed", ended=time.time(), failures=failures)

    def _set_status(self, wf_id: str, status: str, **values: Any) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(Workflow).where(Workflow.c.id == wf_id).values(status=status, **values)
            )
        self.store.add_event(wf_id, "status", status)
        self.store.flush()

    # ---- reads and changes -------------------------------------------------------------------
    def status(self, workflow_id: str) -> str:
        """The stored status."""
        return str(self.store.workflow(workflow_id)["status"])

    def metadata(self, workflow_id: str) -> dict[str, Any]:
        """Cromwell-shaped metadata, sub-workflows by id."""
        from ironside.metadata import workflow_metadata

        return workflow_metadata(self.store, workflow_id, expand=False)

    def labels(self, workflow_id: str) -> dict[str, str]:
        """Labels (Cromwell adds ``cromwell-workflow-id``)."""
        self.store.workflow(workflow_id)
        labels = {"cromwell-workflow-id": f"cromwell-{workflow_id}"}
        labels.update(self.store.labels(workflow_id))
        return labels

    def update_labels(self, workflow_id: str, labels: dict[str, str]) -> dict[str, str]:
        """Add or replace labels; all labels back."""
        self.store.workflow(workflow_id)
        self.store.set_labels(workflow_id, labels)
        return self.labels(workflow_id)

    def abort(self, workflow_id: str) -> str:
        """Aborted at once when not started, Aborting while running; 403 when finished."""
        with self._lock:
            status = self.status(workflow_id)
            if status in TERMINAL:
                raise WorkflowStateConflict(
                    f"Couldn't abort {workflow_id} because workflow is in terminal state {status}"
                )
            if workflow_id in self._engines:  # claimed by a runner
                engine = self._engines[workflow_id]
                if engine is None:
                    self._abort_pending.add(workflow_id)
                else:
                    engine.abort_requested = True
                self._set_status(workflow_id, "Aborting")
                return "Aborting"
            if status in ("Submitted", "On Hold"):  # the runner skips it when it comes
                self._set_status(workflow_id, "Aborted", ended=time.time())
                return "Aborted"
            self._set_status(workflow_id, "Aborting")  # resumed and aborted by a runner
            return "Aborting"

    def release_hold(self, workflow_id: str) -> str:
        """On Hold -> Submitted (queued); 403 otherwise."""
        status = self.status(workflow_id)
        if status != "On Hold":
            raise WorkflowStateConflict(
                f"Couldn't change status of workflow {workflow_id} to 'Submitted' because the "
                f"workflow is not in 'On Hold' state (it is {status})"
            )
        self._set_status(workflow_id, "Submitted")
        self._queue.put(workflow_id)
        return "Submitted"

    def workflows(self) -> list[WorkflowSummary]:
        """Every workflow and sub-workflow, with labels (two queries)."""
        rows = self.store.workflows(top_level=False)
        labels: dict[str, dict[str, str]] = {}
        with self.store.engine.connect() as conn:
            for wf_id, key, value in conn.execute(
                select(Label.c.workflow_id, Label.c.key, Label.c.value)
            ):
                labels.setdefault(wf_id, {})[key] = value
        parents = {r["id"]: r["parent_id"] for r in rows}
        return [_summary(r, parents, labels.get(r["id"], {})) for r in rows]

    def backends(self) -> BackendsInfo:
        """Configured providers."""
        return BackendsInfo(sorted(self.settings.providers), self.settings.default_backend)

    def running_jobs(self) -> int:
        """Call attempts in state Running (one count query)."""
        with self.store.engine.connect() as conn:
            query = select(func.count()).select_from(Call).where(Call.c.status == "Running")
            return int(conn.execute(query).scalar() or 0)

    def call_cache_diff(self, a: CallSpec, b: CallSpec) -> dict[str, Any]:
        """``/callcaching/diff`` of two stored calls (404 when a workflow or call is unknown)."""
        from ironside.callcache.diff import diff_calls

        return diff_calls(self.store, a, b)


def _root_of(wf_id: str, parents: dict[str, str | None]) -> str:
    seen = 0
    while parents.get(wf_id) and seen < 64:
        wf_id = str(parents[wf_id])
        seen += 1
    return wf_id


def _summary(
    row: dict[str, Any], parents: dict[str, str | None], labels: dict[str, str]
) -> WorkflowSummary:
    return WorkflowSummary(
        id=row["id"],
        name=row["name"],
        status=row["status"],
        submission=row["submitted"],
        start=row["started"],
        end=row["ended"],
        parent_id=row["parent_id"],
        root_id=_root_of(row["id"], parents),
        labels=labels,
    )


def build_engine_port(config_path: str | None, max_workflows: int | None = None) -> StoreEngine:
    """The engine service for ``ironside server``: config, store (migrated), runners."""
    settings = load_settings(config_path)
    store = open_store(settings.database_url)  # BadConfig when it cannot be opened
    env = os.environ.get("IRONSIDE_SERVER_WORKFLOWS", "")
    workers = int(env) if env.isdigit() else (max_workflows or 4)
    return StoreEngine(settings, store, workers)
