"""The engine as the REST server sees it: a small protocol the engine's service satisfies.

All calls are synchronous and may block (the server runs them in a worker
thread). Errors are ``ironside.errors.UserError`` subclasses: ``UnknownWorkflow``
(404), ``WorkflowStateConflict`` (403), ``WorkflowIdTaken`` (409), others 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ironside.errors import UserError
from ironside.server.submission import Submission

TERMINAL = frozenset({"Succeeded", "Failed", "Aborted"})
STATUSES = frozenset({"Submitted", "On Hold", "Running", "Aborting", *TERMINAL})


class WorkflowIdTaken(UserError):
    """``requestedWorkflowId`` names a workflow that already exists."""

    http_status = 409


@dataclass(frozen=True)
class WorkflowSummary:
    """One row of ``/query``: times are UNIX seconds (``None`` when not reached)."""

    id: str
    name: str
    status: str
    submission: float
    start: float | None = None
    end: float | None = None
    parent_id: str | None = None
    root_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BackendsInfo:
    """``/backends``: the configured backend names and the default one."""

    supported: list[str]
    default: str


class EnginePort(Protocol):
    """What the server needs from the engine."""

    def start(self) -> None:
        """Start scheduling (and resume every workflow that was in flight)."""

    def stop(self) -> None:
        """Stop scheduling; running tasks keep running and are picked up at the next start."""

    def submit(self, submission: Submission) -> tuple[str, str]:
        """Store a validated submission and queue it; return (id, status)."""

    def status(self, workflow_id: str) -> str:
        """The workflow's Cromwell status."""

    def metadata(self, workflow_id: str) -> dict[str, Any]:
        """Cromwell-shaped metadata of a workflow or sub-workflow, sub-workflows not expanded.

        Calls with a sub-workflow carry ``subWorkflowId``; the server expands them.
        """

    def labels(self, workflow_id: str) -> dict[str, str]:
        """The workflow's labels."""

    def update_labels(self, workflow_id: str, labels: dict[str, str]) -> dict[str, str]:
        """Add or replace labels; return all labels of the workflow."""

    def abort(self, workflow_id: str) -> str:
        """Request an abort; return the new status (``Aborting`` or ``Aborted``)."""

    def release_hold(self, workflow_id: str) -> str:
        """Release an ``On Hold`` workflow; return its new status (``Submitted``)."""

    def workflows(self) -> list[WorkflowSummary]:
        """A summary of every workflow and sub-workflow."""

    def health(self) -> dict[str, Any]:
        """``{"ok": bool, "systems": {name: {"ok": bool, "messages": [...]}}}``."""
        ...

    def backends(self) -> BackendsInfo:
        """The configured backends."""
