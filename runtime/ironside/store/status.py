"""The statuses stored in workflow and call rows, as enums (they compare equal to their text)."""

from __future__ import annotations

from enum import StrEnum


class WorkflowStatus(StrEnum):
    """A workflow's status, with Cromwell's names."""

    ON_HOLD = "On Hold"
    SUBMITTED = "Submitted"
    RUNNING = "Running"
    ABORTING = "Aborting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABORTED = "Aborted"

    @property
    def terminal(self) -> bool:
        """Whether the workflow has ended."""
        return self in TERMINAL


TERMINAL = frozenset({WorkflowStatus.SUCCEEDED, WorkflowStatus.FAILED, WorkflowStatus.ABORTED})
#: Statuses a (re)starting engine picks up: resumed (Running, Aborting) or started (Submitted).
UNFINISHED = (WorkflowStatus.RUNNING, WorkflowStatus.ABORTING, WorkflowStatus.SUBMITTED)


class CallStatus(StrEnum):
    """A call attempt's status in the store (metadata maps it to Cromwell's executionStatus)."""

    STARTING = "Starting"
    RUNNING = "Running"
    DONE = "Done"
    RETRYABLE_FAILURE = "RetryableFailure"
    FAILED = "Failed"
    ABORTED = "Aborted"
