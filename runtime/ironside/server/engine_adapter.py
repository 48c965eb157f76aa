"""``EnginePort`` over the engine service: the REST server is a ``WorkflowService`` fed by HTTP.

Submissions go through the service's one pipeline (``WorkflowService.prepare``)
and are admitted to its single scheduler at once; reads go to the store. At
start, every top-level workflow left ``Running``/``Aborting`` is resumed (its
finished calls are not rerun, running jobs are re-attached) and every
``Submitted`` one is started again.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select

from ironside.callcache.diff import CallSpec
from ironside.config import Settings, load_settings
from ironside.engine.service import WorkflowService
from ironside.engine.submit import SubmissionWhere
from ironside.server.engine_port import BackendsInfo, WorkflowIdTaken, WorkflowSummary
from ironside.server.submission import Submission
from ironside.store.models import Label

_WHERE = SubmissionWhere()


class StoreEngine:
    """The engine service the REST server drives (see ``EnginePort``)."""

    def __init__(self, settings: Settings, service: WorkflowService) -> None:
        self.settings = settings
        self.service = service
        self.store = service.store

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Resume what was left unfinished, then run the scheduler."""
        self.service.start()

    def stop(self) -> None:
        """Stop taking work; running workflows are left to resume at the next start."""
        self.service.stop()

    # ---- submission ------------------------------------------------------------------------
    def submit(self, submission: Submission) -> tuple[str, str]:
        """Validate with the engine's own rules, store, admit; return (id, status)."""
        from sqlalchemy.exc import IntegrityError

        sub = self.service.prepare(
            submission.source,
            self._source_path(submission),
            submission.inputs,
            submission.options,
            submission.labels,
            submission.dependencies,
            _WHERE,
        )
        try:
            wf_id = self.service.submit(
                sub, wf_id=submission.requested_id, on_hold=submission.on_hold
            )
        except IntegrityError:
            raise WorkflowIdTaken(
                f"Workflow ID {submission.requested_id} is already in use"
            ) from None
        return wf_id, "On Hold" if submission.on_hold else "Submitted"

    def _source_path(self, submission: Submission) -> str:
        if submission.workflow_url.startswith("file://"):
            from urllib.parse import unquote, urlsplit

            return unquote(urlsplit(submission.workflow_url).path)
        return os.path.join(os.path.abspath(self.service.root), "submitted.wdl")

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
        return str(self.service.abort(workflow_id))

    def release_hold(self, workflow_id: str) -> str:
        """On Hold -> Submitted (admitted); 403 otherwise."""
        return str(self.service.release_hold(workflow_id))

    def workflows(self) -> list[WorkflowSummary]:
        """Every workflow and sub-workflow, with labels (two queries)."""
        rows = self.store.workflows(top_level=False)
        labels: dict[str, dict[str, str]] = {}
        with self.store.engine.connect() as conn:
            for wf_id, key, value in conn.execute(
                select(Label.workflow_id, Label.key, Label.value)
            ):
                labels.setdefault(wf_id, {})[key] = value
        parents = {r["id"]: r["parent_id"] for r in rows}
        return [_summary(r, parents, labels.get(r["id"], {})) for r in rows]

    def health(self) -> dict[str, Any]:
        """The store's and the backend's health."""
        return self.service.health()

    def backends(self) -> BackendsInfo:
        """Configured providers."""
        return BackendsInfo(sorted(self.settings.providers), self.settings.default_backend)

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


def engine_port(settings: Settings, max_workflows: int | None = None) -> StoreEngine:
    """The engine service for ``ironside server``, built by the composition root."""
    from ironside.assembly import build_service

    return StoreEngine(settings, build_service(settings, max_workflows=max_workflows))


def build_engine_port(config_path: str | None, max_workflows: int | None = None) -> StoreEngine:
    """``engine_port`` of the config at ``config_path`` (``$IRONSIDE_CONFIG``, else embedded)."""
    return engine_port(load_settings(config_path), max_workflows)
