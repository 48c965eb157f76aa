"""An in-memory ``EnginePort`` for testing the REST layer over real HTTP without the engine.

Workflows move Submitted -> Running -> Succeeded on ``tick`` (or at once with
``auto=True``); tests may replace a workflow's metadata to exercise filters.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from ironside.errors import UnknownWorkflow, WorkflowStateConflict
from ironside.metadata import iso
from ironside.server.engine_port import TERMINAL, BackendsInfo, WorkflowIdTaken, WorkflowSummary
from ironside.server.submission import Submission


class FakeEngine:
    """Keeps workflows in a dict; ``auto`` makes every released workflow succeed at once."""

    def __init__(self, auto: bool = True) -> None:
        self.auto = auto
        self.lock = threading.Lock()
        self.subs: dict[str, Submission] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self.custom_metadata: dict[str, dict[str, Any]] = {}
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def _row(self, wf_id: str) -> dict[str, Any]:
        if wf_id not in self.rows:
            raise UnknownWorkflow(f"Unrecognized workflow ID: {wf_id}")
        return self.rows[wf_id]

    def submit(self, submission: Submission) -> tuple[str, str]:
        with self.lock:
            wf_id = submission.requested_id or str(uuid.uuid4())
            if wf_id in self.rows:
                raise WorkflowIdTaken(f"Workflow ID {wf_id} is already in use")
            status = "On Hold" if submission.on_hold else "Submitted"
            self.subs[wf_id] = submission
            self.rows[wf_id] = {
                "id": wf_id,
                "name": submission.workflow_name,
                "status": status,
                "submission": time.time(),
                "start": None,
                "end": None,
                "parent": None,
                "labels": dict(submission.labels),
            }
            if self.auto and status == "Submitted":
                self._finish(wf_id, "Succeeded")
            return wf_id, status

    def _finish(self, wf_id: str, status: str) -> None:
        row = self.rows[wf_id]
        row["start"] = row["start"] or time.time()
        row["end"] = time.time()
        row["status"] = status

    def add_child(self, parent_id: str, name: str) -> str:
        """A sub-workflow row under ``parent_id``."""
        child = str(uuid.uuid4())
        self.rows[child] = {
            "id": child,
            "name": name,
            "status": "Succeeded",
            "submission": time.time(),
            "start": time.time(),
            "end": time.time(),
            "parent": parent_id,
            "labels": {},
        }
        return child

    def status(self, workflow_id: str) -> str:
        return str(self._row(workflow_id)["status"])

    def metadata(self, workflow_id: str) -> dict[str, Any]:
        row = self._row(workflow_id)
        if workflow_id in self.custom_metadata:
            return self.custom_metadata[workflow_id]
        sub = self.subs.get(workflow_id)
        fqn = f"{row['name']}.t"
        done = row["status"] == "Succeeded"
        call = {
            "executionStatus": "Done" if done else "QueuedInCromwell",
            "shardIndex": -1,
            "attempt": 1,
            "backend": "Local",
            "stdout": f"/tmp/{workflow_id}/call-t/execution/stdout",
            "stderr": f"/tmp/{workflow_id}/call-t/execution/stderr",
            "start": iso(row["start"]),
            "end": iso(row["end"]),
            "outputs": {"out": "hello"} if done else {},
        }
        md: dict[str, Any] = {
            "id": workflow_id,
            "workflowName": row["name"],
            "status": row["status"],
            "submission": iso(row["submission"]),
            "labels": dict(row["labels"]),
            "calls": {fqn: [call]},
            "outputs": {f"{row['name']}.out": "hello"} if done else {},
            "inputs": dict(sub.inputs) if sub else {},
        }
        if row["start"]:
            md["start"] = iso(row["start"])
        if row["end"]:
            md["end"] = iso(row["end"])
        if sub:
            md["submittedFiles"] = {"workflow": sub.source, "options": _json(sub.options)}
        return md

    def labels(self, workflow_id: str) -> dict[str, str]:
        return dict(self._row(workflow_id)["labels"])

    def update_labels(self, workflow_id: str, labels: dict[str, str]) -> dict[str, str]:
        row = self._row(workflow_id)
        row["labels"].update(labels)
        return dict(row["labels"])

    def abort(self, workflow_id: str) -> str:
        row = self._row(workflow_id)
        if row["status"] in TERMINAL:
            raise WorkflowStateConflict(
                f"Couldn't abort {workflow_id} because workflow is in terminal state "
                f"{row['status']}"
            )
        row["status"] = "Aborting" if row["status"] == "Running" else "Aborted"
        return str(row["status"])

    def release_hold(self, workflow_id: str) -> str:
        row = self._row(workflow_id)
        if row["status"] != "On Hold":
            raise WorkflowStateConflict(f"Couldn't release {workflow_id}: it is not On Hold")
        row["status"] = "Submitted"
        if self.auto:
            self._finish(workflow_id, "Succeeded")
            return "Submitted"
        return "Submitted"

    def workflows(self) -> list[WorkflowSummary]:
        out = []
        for row in list(self.rows.values()):
            parent = row["parent"]
            out.append(
                WorkflowSummary(
                    id=row["id"],
                    name=row["name"],
                    status=row["status"],
                    submission=row["submission"],
                    start=row["start"],
                    end=row["end"],
                    parent_id=parent,
                    root_id=parent or row["id"],
                    labels=dict(row["labels"]),
                )
            )
        return out

    def health(self) -> dict[str, Any]:
        return {"ok": True, "systems": {"Engine Database": {"ok": True, "messages": []}}}

    def backends(self) -> BackendsInfo:
        return BackendsInfo(["Local"], "Local")


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
