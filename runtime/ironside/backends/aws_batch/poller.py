"""One shared status poller: ``DescribeJobs`` for up to 100 jobs a call.

Batch states map to ``JobStatus``. A finished job's ``rc`` is read from S3 (the
task script writes it under the call root the job carries in its environment).
A job Batch reports FAILED whose script nevertheless wrote an ``rc`` ran to its
end: that is SUCCEEDED with the task's rc, and the engine decides. Without an
``rc``: a Spot reclaim (``statusReason`` beginning ``Host EC2``) is retryable;
an out-of-memory kill (exit 137, or a reason matching a memory-retry key) says
so at the start of the reason.

The poller never waits and never fails for throttling: a throttled (or 5xx)
DescribeJobs ends the cycle, the jobs it could not describe keep their last
known state, and the next DescribeJobs waits out a growing back-off (checked
against the injected clock, not slept). Jobs described longest ago go first.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ironside.backends.base import JobState, JobStatus

from .throttle import AdaptiveRateLimiter, is_retryable, is_throttling

BATCH_SIZE = 100
#: Jobs described in one cycle at most: an array's children end by the thousand, and the
#: engine finishes (outputs, rows, metadata) what a cycle reports in one tick.
CYCLE_JOBS = 1000
#: Parallel rc reads of one poll cycle (an array's children end by the thousand).
RC_READERS = 16
CALL_ROOT_ENV = "IRONSIDE_CALL_ROOT"
ABORT_REASON = "Aborted by Ironside"
OOM_PREFIX = "OutOfMemory"
STATUS_MAP = {
    "SUBMITTED": JobStatus.QUEUED,
    "PENDING": JobStatus.QUEUED,
    "RUNNABLE": JobStatus.QUEUED,
    "STARTING": JobStatus.RUNNING,
    "RUNNING": JobStatus.RUNNING,
    "SUCCEEDED": JobStatus.SUCCEEDED,
    "FAILED": JobStatus.FAILED,
}


def rc_url(call_root: str) -> str:
    """Where the task script writes the command's return code."""
    return f"{call_root.rstrip('/')}/execution/rc"


@dataclass(frozen=True)
class JobDetails:
    """What Batch said about a job, for the call's metadata and failure message."""

    job_id: str
    batch_status: str
    status_reason: str | None
    container_reason: str | None
    exit_code: int | None
    log_group: str | None
    log_stream: str | None
    call_root: str | None

    @classmethod
    def from_description(cls, job: Mapping[str, Any], call_root: str | None = None) -> JobDetails:
        """Pick the fields we use out of one ``DescribeJobs`` entry.

        ``call_root``: where the engine knows the job's call root to be (an array
        child's environment is its array's, which names no call root).
        """
        container = job.get("container") or {}
        env = {e.get("name"): e.get("value") for e in container.get("environment") or []}
        log_options = (container.get("logConfiguration") or {}).get("options") or {}
        return cls(
            job_id=job["jobId"],
            batch_status=job.get("status", ""),
            status_reason=job.get("statusReason"),
            container_reason=container.get("reason"),
            exit_code=container.get("exitCode"),
            log_group=log_options.get("awslogs-group", "/aws/batch/job"),
            log_stream=container.get("logStreamName"),
            call_root=call_root or env.get(CALL_ROOT_ENV),
        )

    @property
    def spot_reclaimed(self) -> bool:
        """The host went away under the job (Spot reclaim, scale-in)."""
        return (self.status_reason or "").startswith("Host EC2")

    def out_of_memory(self, keys: Sequence[str]) -> bool:
        """Killed for memory: exit 137 or a memory-retry key in a reason."""
        text = f"{self.status_reason or ''} {self.container_reason or ''}"
        return self.exit_code == 137 or any(k in text for k in keys)

    def failure_message(self) -> str:
        """statusReason, container reason and exit code in one line."""
        parts = [self.status_reason or f"AWS Batch job {self.batch_status}"]
        if self.container_reason:
            parts.append(f"container: {self.container_reason}")
        if self.exit_code is not None:
            parts.append(f"exit code {self.exit_code}")
        return "; ".join(parts)


class StatusPoller:
    """Asks Batch about many jobs at once and turns answers into ``JobState``s."""

    def __init__(
        self,
        batch: Any,
        s3: Any,
        *,
        limiter: AdaptiveRateLimiter,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        min_gap: float = 0.2,
        cycle_jobs: int = CYCLE_JOBS,
        backoff: float = 0.25,
        max_backoff: float = 10.0,
        memory_retry_keys: Sequence[str] = ("OutOfMemory", "Killed"),
    ) -> None:
        self._batch = batch
        self._s3 = s3
        self._limiter = limiter
        self._clock = clock
        self._rng = rng or random.Random()
        self._min_gap = min_gap
        self._cycle_jobs = cycle_jobs
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._memory_keys = tuple(memory_retry_keys)
        self._refused = 0  # DescribeJobs refused (throttled, 5xx) in a row
        self._not_before = float("-inf")
        self._cycle = 0
        self._seen: dict[str, int] = {}  # job id -> the cycle it was last described in
        self.details: dict[str, JobDetails] = {}
        #: job id -> call root, for jobs whose environment names none (array children)
        self.call_roots: dict[str, str] = {}
        self._rc_pool: ThreadPoolExecutor | None = None

    def describe(self, job_ids: Sequence[str]) -> tuple[set[str], dict[str, JobDetails]]:
        """``DescribeJobs`` in chunks of 100, least recently described first, until refused.

        Returns (the ids asked about, what Batch said); ids asked but absent are
        unknown to Batch. At most ``cycle_jobs`` jobs are asked about (the rest keep
        their last known state). Nothing is asked while backing off, nor within ``min_gap``
        seconds of the last cycle (an engine in a hurry gets the last known states).
        """
        self._cycle += 1
        asked: set[str] = set()
        found: dict[str, JobDetails] = {}
        now = self._clock()
        if now < self._not_before:
            return asked, found
        self._not_before = now + self._min_gap
        unique = sorted(dict.fromkeys(job_ids), key=lambda j: self._seen.get(j, -1))
        unique = unique[: self._cycle_jobs]
        for start in range(0, len(unique), BATCH_SIZE):
            chunk = unique[start : start + BATCH_SIZE]
            response = self._describe_chunk(chunk)
            if response is None:
                break
            asked.update(chunk)
            self._seen.update(dict.fromkeys(chunk, self._cycle))
            for job in response.get("jobs", []):
                found[job["jobId"]] = JobDetails.from_description(
                    job, self.call_roots.get(job["jobId"])
                )
        self.details.update(found)
        return asked, found

    def _describe_chunk(self, chunk: list[str]) -> Mapping[str, Any] | None:
        """One DescribeJobs; None (and a longer back-off) when throttled or a 5xx."""
        try:
            response = self._batch.describe_jobs(jobs=chunk)
        except ClientError as err:
            if not is_retryable(err):
                raise
            if is_throttling(err):
                self._limiter.on_throttle()
            self._refused += 1
            delay = min(self._max_backoff, self._backoff * 2 ** (self._refused - 1))
            self._not_before = self._clock() + self._rng.uniform(delay / 2, delay)
            return None
        self._refused = 0
        self._limiter.on_success()
        return dict(response)

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """The state of every job in ``job_ids``; ids Batch does not know are FAILED.

        A job not described this cycle (throttled) keeps its last known state.
        """
        asked, found = self.describe(job_ids)
        rcs = self._read_rcs(found.values())
        states: dict[str, JobState] = {}
        for job_id in job_ids:
            details = found.get(job_id)
            if details is not None:
                states[job_id] = self._state_or_later(details, rcs)
                if states[job_id].status.terminal:
                    self._seen.pop(job_id, None)
            elif job_id in asked:
                states[job_id] = JobState(job_id, JobStatus.FAILED, reason="unknown to AWS Batch")
            else:
                states[job_id] = self.last_known(job_id)
        return states

    def last_known(self, job_id: str) -> JobState:
        """What the last description said, as a non-terminal state (QUEUED if never described)."""
        last = self.details.get(job_id)
        status = STATUS_MAP.get(last.batch_status, JobStatus.QUEUED) if last else JobStatus.QUEUED
        return JobState(job_id, JobStatus.RUNNING if status.terminal else status)

    def _read_rcs(self, described: Iterable[JobDetails]) -> dict[str, int | None | ClientError]:
        """The rc of every finished job described, read ``RC_READERS`` at a time.

        A failed read is kept as its error, for ``state_of`` to raise as if it read there.
        """
        roots = {
            d.job_id: d.call_root
            for d in described
            if d.call_root and STATUS_MAP.get(d.batch_status, JobStatus.QUEUED).terminal
        }
        if len(roots) < 2:
            return {}
        if self._rc_pool is None:
            self._rc_pool = ThreadPoolExecutor(RC_READERS, thread_name_prefix="batch-rc")
        return dict(zip(roots, self._rc_pool.map(self._rc_or_error, roots.values()), strict=True))

    def _rc_or_error(self, call_root: str) -> int | None | ClientError:
        try:
            return self.read_rc(call_root)
        except ClientError as err:
            return err

    def _state_or_later(
        self, details: JobDetails, rcs: Mapping[str, int | None | ClientError]
    ) -> JobState:
        """``state_of``; a finished job whose rc S3 will not give now: RUNNING until next poll."""
        try:
            return self.state_of(details, rcs)
        except ClientError as err:
            if not is_retryable(err):
                raise
            return JobState(details.job_id, JobStatus.RUNNING)

    def state_of(
        self, details: JobDetails, rcs: Mapping[str, int | None | ClientError] | None = None
    ) -> JobState:
        """Map one job's details to a ``JobState`` (reads ``rc`` when finished, unless ``rcs``
        holds what reading it gave)."""
        status = STATUS_MAP.get(details.batch_status, JobStatus.QUEUED)
        if not status.terminal:
            return JobState(details.job_id, status)
        if status is JobStatus.FAILED and ABORT_REASON in (details.status_reason or ""):
            return JobState(details.job_id, JobStatus.ABORTED, reason=details.status_reason)
        rc = self._rc_of(details, rcs or {})
        if rc is not None:
            return JobState(details.job_id, JobStatus.SUCCEEDED, return_code=rc)
        return self._failed(details)

    def _rc_of(
        self, details: JobDetails, rcs: Mapping[str, int | None | ClientError]
    ) -> int | None:
        if details.job_id in rcs:
            rc = rcs[details.job_id]
            if isinstance(rc, ClientError):
                raise rc
            return rc
        return self.read_rc(details.call_root) if details.call_root else None

    def _failed(self, details: JobDetails) -> JobState:
        message = details.failure_message()
        if details.batch_status == "SUCCEEDED":
            where = rc_url(details.call_root) if details.call_root else "the call root"
            return JobState(details.job_id, JobStatus.FAILED, reason=f"{message}; no rc at {where}")
        if details.spot_reclaimed:
            return JobState(details.job_id, JobStatus.FAILED, reason=message, retryable=True)
        if details.out_of_memory(self._memory_keys):
            message = f"{OOM_PREFIX}: {message}"
        return JobState(details.job_id, JobStatus.FAILED, reason=message)

    def read_rc(self, call_root: str) -> int | None:
        """The integer in ``<call_root>/execution/rc``, or None when absent or unreadable."""
        bucket, _, key = rc_url(call_root)[len("s3://") :].partition("/")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        try:
            return int(body.decode().strip())
        except ValueError:
            return None
