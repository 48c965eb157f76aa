"""Status mapping: Batch states, rc from S3, Spot reclaim, out of memory, abort."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ironside.backends.aws_batch.poller import JobDetails, StatusPoller
from ironside.backends.aws_batch.throttle import AdaptiveRateLimiter
from ironside.backends.base import JobStatus

from .batch_helpers import FakeClock
from .conftest import ROOT_BUCKET

CALL_ROOT = f"s3://{ROOT_BUCKET}/wf/1/call-a"


def described(status: str, **extra: Any) -> dict[str, Any]:
    container = {
        "environment": [{"name": "IRONSIDE_CALL_ROOT", "value": CALL_ROOT}],
        "logStreamName": "ironside-def/default/abc",
        **extra.pop("container", {}),
    }
    return {"jobId": "job-1", "status": status, "container": container, **extra}


@pytest.fixture
def poller(s3: Any, clock: FakeClock) -> StatusPoller:
    limiter = AdaptiveRateLimiter(100.0, clock=clock, sleep=clock.sleep)
    return StatusPoller(None, s3, limiter=limiter, clock=clock)


def write_rc(s3: Any, rc: str) -> None:
    s3.put_object(Bucket=ROOT_BUCKET, Key="wf/1/call-a/execution/rc", Body=rc.encode())


@pytest.mark.parametrize(
    ("batch_status", "status"),
    [
        ("SUBMITTED", JobStatus.QUEUED),
        ("PENDING", JobStatus.QUEUED),
        ("RUNNABLE", JobStatus.QUEUED),
        ("STARTING", JobStatus.RUNNING),
        ("RUNNING", JobStatus.RUNNING),
    ],
)
def test_live_states(poller: StatusPoller, batch_status: str, status: JobStatus) -> None:
    assert poller.state_of(JobDetails.from_description(described(batch_status))).status is status


def test_succeeded_reads_rc(poller: StatusPoller, s3: Any) -> None:
    write_rc(s3, "0\n")
    state = poller.state_of(JobDetails.from_description(described("SUCCEEDED")))
    assert (state.status, state.return_code) == (JobStatus.SUCCEEDED, 0)


def test_failed_with_rc_ran_to_its_end(poller: StatusPoller, s3: Any) -> None:
    write_rc(s3, "2")
    job = described(
        "FAILED", statusReason="Essential container in task exited", container={"exitCode": 2}
    )
    state = poller.state_of(JobDetails.from_description(job))
    assert (state.status, state.return_code) == (JobStatus.SUCCEEDED, 2)


def test_spot_reclaim_is_retryable(poller: StatusPoller) -> None:
    job = described("FAILED", statusReason="Host EC2 (instance i-0abc) terminated.")
    state = poller.state_of(JobDetails.from_description(job))
    assert state.status is JobStatus.FAILED
    assert state.retryable
    assert state.reason == "Host EC2 (instance i-0abc) terminated."


@pytest.mark.parametrize(
    "container",
    [
        {"exitCode": 137, "reason": "Essential container exited"},
        {"reason": "OutOfMemoryError: Container killed due to memory usage"},
    ],
)
def test_out_of_memory_is_noted(poller: StatusPoller, container: dict[str, Any]) -> None:
    job = described(
        "FAILED", statusReason="Essential container in task exited", container=container
    )
    state = poller.state_of(JobDetails.from_description(job))
    assert state.status is JobStatus.FAILED
    assert not state.retryable
    assert (state.reason or "").startswith("OutOfMemory: Essential container in task exited")


def test_failure_message_has_reason_and_exit_code(poller: StatusPoller) -> None:
    job = described(
        "FAILED",
        statusReason="Essential container in task exited",
        container={"exitCode": 1, "reason": "CannotPullContainerError: not found"},
    )
    state = poller.state_of(JobDetails.from_description(job))
    assert state.reason == (
        "Essential container in task exited; container: CannotPullContainerError: not found; "
        "exit code 1"
    )


def test_aborted(poller: StatusPoller) -> None:
    job = described("FAILED", statusReason="Aborted by Ironside")
    assert poller.state_of(JobDetails.from_description(job)).status is JobStatus.ABORTED


def test_details_carry_logs() -> None:
    job = described("RUNNING")
    job["container"]["logConfiguration"] = {"options": {"awslogs-group": "/ironside/tasks"}}
    details = JobDetails.from_description(job)
    assert (details.log_group, details.log_stream) == (
        "/ironside/tasks",
        "ironside-def/default/abc",
    )
    assert details.call_root == CALL_ROOT


def test_describe_backs_off_on_throttling(s3: Any, clock: FakeClock) -> None:
    class Batch:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
            self.calls.append(jobs)
            if len(self.calls) == 2:
                raise ClientError(
                    {
                        "Error": {"Code": "TooManyRequestsException", "Message": "x"},
                        "ResponseMetadata": {"HTTPStatusCode": 429},
                    },
                    "DescribeJobs",
                )
            return {"jobs": [{**described("RUNNING"), "jobId": j} for j in jobs]}

    batch = Batch()
    limiter = AdaptiveRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    poller = StatusPoller(batch, s3, limiter=limiter, clock=clock, min_gap=0.0, backoff=1.0)
    ids = [f"j{i}" for i in range(250)]
    poller.poll(ids[:100])  # described once: RUNNING
    states = poller.poll(ids)  # throttled: nothing raised, no sleep, last known states
    assert [len(c) for c in batch.calls] == [100, 100]
    assert limiter.rate == 5.0
    assert {states[j].status for j in ids[:100]} == {JobStatus.RUNNING}
    assert {states[j].status for j in ids[100:]} == {JobStatus.QUEUED}  # never described
    assert not clock.sleeps
    poller.poll(ids)  # still backing off: no call
    assert len(batch.calls) == 2
    clock.now += 1.0
    poller.poll(ids)  # the jobs never described go first
    assert [len(c) for c in batch.calls] == [100, 100, 100, 100, 50]
    assert set(batch.calls[2]) == set(ids[100:200])


def test_an_engine_in_a_hurry_gets_last_known_states(s3: Any, clock: FakeClock) -> None:
    class Batch:
        calls = 0

        def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
            Batch.calls += 1
            return {"jobs": [{**described("RUNNING"), "jobId": j} for j in jobs]}

    limiter = AdaptiveRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    poller = StatusPoller(Batch(), s3, limiter=limiter, clock=clock, min_gap=0.5)
    for _ in range(5):
        assert poller.poll(["j1"])["j1"].status is JobStatus.RUNNING
    assert Batch.calls == 1
    clock.now += 0.5
    poller.poll(["j1"])
    assert Batch.calls == 2


def test_many_finished_jobs_read_their_rc_in_parallel(s3: Any, clock: FakeClock) -> None:
    """250 ended array children: each one's own rc (call roots from the engine); an S3 500
    on one read leaves that job RUNNING until the next poll, a missing rc is FAILED."""
    roots = {f"arr:{i}": f"s3://{ROOT_BUCKET}/wf/1/call-a/shard-{i}" for i in range(250)}
    for i in range(248):
        s3.put_object(Bucket=ROOT_BUCKET, Key=f"wf/1/call-a/shard-{i}/execution/rc", Body=b"%d" % i)

    def fail_shard_248(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("wf/1/call-a/shard-248/"):
            raise ClientError(
                {"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                "GetObject",
            )

    s3.meta.events.register("provide-client-params.s3.GetObject", fail_shard_248)

    class Batch:
        def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
            # an array child's environment is its array's: no call root in it
            return {"jobs": [{"jobId": j, "status": "SUCCEEDED", "container": {}} for j in jobs]}

    limiter = AdaptiveRateLimiter(100.0, clock=clock, sleep=clock.sleep)
    poller = StatusPoller(Batch(), s3, limiter=limiter, clock=clock, min_gap=0.0)
    poller.call_roots.update(roots)
    states = poller.poll(list(roots))
    assert [states[f"arr:{i}"].return_code for i in range(248)] == list(range(248))
    assert states["arr:248"].status is JobStatus.RUNNING
    assert states["arr:249"].status is JobStatus.FAILED
    assert "no rc at" in (states["arr:249"].reason or "")
