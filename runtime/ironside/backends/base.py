"""The seam between the engine and whatever runs a task attempt.

A backend receives a rendered task script (see ``ironside.tasks``) and runs it
somewhere: a local process, an AWS Batch job. The engine stores the job id a
backend returns *before* it does anything else, so that after a restart it can
ask the same backend about the same job again (``poll``) instead of submitting
twice. Status is asked for many jobs at once: backends batch their API calls.
"""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from WDL import Env, Value

from ironside.tasks import FileTransfer
from ironside.wdl.values import files_in

#: A task's input environment as the engine evaluated it.
InputEnv = Env.Bindings[Value.Base]


class JobStatus(enum.Enum):
    """Where a submitted job is. Terminal: SUCCEEDED, FAILED, ABORTED."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"  # the script ran to its end; the task's rc decides success
    FAILED = "FAILED"  # the job never produced an rc (lost host, Spot reclaim, OOM kill ...)
    ABORTED = "ABORTED"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.ABORTED)


@dataclass(frozen=True)
class JobRequest:
    """One call attempt, rendered and ready to run.

    ``call_root`` is the attempt's directory (local path or ``s3://`` URI) in
    Cromwell's layout; the script writes ``rc``, ``stdout`` and ``stderr`` under
    ``<call_root>/execution/`` (the backend may place them differently, but
    ``JobState.rc_path`` etc. say where).
    """

    workflow_id: str
    call_fqn: str
    shard: int  # -1 when not in a scatter
    attempt: int  # 1-based
    call_root: str
    script: str  # the whole rendered bash script
    runtime: Mapping[str, Any] = field(default_factory=dict)  # evaluated runtime attributes
    options: Mapping[str, Any] = field(default_factory=dict)  # workflow options


@dataclass(frozen=True)
class JobState:
    """What a backend knows of one job."""

    job_id: str
    status: JobStatus
    return_code: int | None = None  # the task command's rc, when the script recorded it
    reason: str | None = None  # why it failed, in words a user can act on
    retryable: bool = False  # e.g. Spot reclaim: try again without counting against maxRetries
    #: the job vanished with its process or host (no rc, nothing running): the engine
    #: retries it as a new attempt, counted against ``system.max-retries``, not maxRetries
    lost: bool = False


class SubmitLater(Exception):
    """``submit`` cannot take the job now (throttled, rate limit reached).

    Nothing was started. The engine keeps the attempt queued (its script and
    request as they are), goes on polling, and submits it again later.
    """


class Backend(ABC):
    """Runs rendered task scripts. One instance serves every workflow of the engine.

    Everything the engine asks of a backend is declared here, with a default
    where a backend may not need it: the engine never probes with ``getattr``.
    """

    #: The name in config (``backend.providers.<name>``) and in metadata.
    name: str

    #: How task scripts for this backend move files (``ironside.tasks.Localizer``);
    #: ``None``: files are used in place (local). Added for AWS Batch's S3 copies.
    localizer: Any = None

    def validate_runtime(self, runtime: Mapping[str, Any]) -> None:  # noqa: B027
        """Raise ``BadRuntimeAttribute`` for a value this backend cannot run.

        Called before anything is submitted. The default accepts everything.
        """

    def validate_options(self, options: Mapping[str, Any]) -> None:  # noqa: B027
        """Raise ``BadOptions`` for workflow options this backend cannot honour.

        Called at submission, before anything is stored. The default accepts everything.
        """

    def stage_inputs(self, env: InputEnv, call_root: str) -> tuple[InputEnv, list[FileTransfer]]:
        """The inputs as the command sees them, and the copies the task script must make.

        Called after the call-cache lookup missed, before the script is rendered; may
        download (``OSError``/``ValueError`` fail the call with the message). The
        default uses every file in place and lists it for the backend's localizer.
        """
        paths = {p for b in env for p in files_in(b.value)}
        return env, [FileTransfer(p, p) for p in sorted(paths)]

    def available_slots(self) -> int | None:
        """How many more jobs this backend takes now (``None``: no limit of its own)."""
        return None

    def pid(self, job_id: str) -> int | None:
        """The local process id of a job: ``None`` when it has none, ``-1`` while starting."""
        return None

    def call_metadata(self, job_id: str) -> dict[str, Any] | None:
        """What the backend knows of a job for call metadata (images, logs, reasons)."""
        return None

    @abstractmethod
    def submit(self, request: JobRequest) -> str:
        """Start the job; return its backend job id. Must not block on the job."""

    def submit_all(self, requests: Sequence[JobRequest]) -> Iterator[tuple[int, str | Exception]]:
        """Start the jobs of all attempts prepared in one dispatch.

        Yields (index into ``requests``, outcome) once per request as each becomes known:
        the job id, or the exception submitting it raised (``SubmitLater``: try again
        later; any other: the attempt failed). A backend may group requests (AWS Batch:
        one array job for alike shards). The default submits one at a time, each only when
        the previous one's outcome was taken, and from the first ``SubmitLater`` on answers
        ``SubmitLater`` for the rest without trying them.
        """
        later: SubmitLater | None = None
        for i, request in enumerate(requests):
            if later is not None:
                yield i, later
                continue
            try:
                job_id = self.submit(request)
            except SubmitLater as exc:
                later = exc
                yield i, exc
            except Exception as exc:  # this attempt's failure (the engine fails the call)
                yield i, exc
            else:
                yield i, job_id

    @abstractmethod
    def poll(self, job_ids: Sequence[str]) -> Mapping[str, JobState]:
        """Current state of each job, asked for all at once (ids unknown to the backend: FAILED)."""

    @abstractmethod
    def abort(self, job_id: str) -> None:
        """Stop the job if it still runs. Idempotent."""

    def wait(self, timeout: float) -> Sequence[str] | None:
        """Block up to ``timeout`` seconds until some job may have changed state.

        Returns the ids of jobs that changed, or ``None`` when the backend cannot
        tell (the engine then polls every running job). The default sleeps.
        Added for event-driven backends (the local one wakes on process exit).
        """
        time.sleep(timeout)
        return None

    def recover(self, request: JobRequest, job_id: str | None) -> str | None:
        """After an engine restart: the job id to keep polling for ``request``, or ``None``.

        ``job_id`` is the id the store holds (``None`` when the engine died before
        storing one). Return ``None`` only when the job certainly never started;
        the engine then submits it. The default trusts the stored id.
        """
        return job_id

    def close(self) -> None:  # noqa: B027
        """Release clients and threads. Called once when the engine stops."""
