"""The engine on AwsBatchBackend, moto in process: throttling, retries, abort, metadata.

moto's Docker-less Batch finishes a job at submission; an ``after-call`` hook on
SubmitJob writes the ``rc`` its task script would, and an ``after-call`` hook on
DescribeJobs rewrites what Batch says of chosen jobs (Spot reclaim, OOM kill,
still running) to drive the engine through each path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ironside.backends.aws_batch.backend import AwsBatchBackend
from ironside.backends.aws_batch.wiring import make_backend
from ironside.engine import submit as S
from ironside.engine.scheduler import Engine
from ironside.filesystems.dispatch import FileSystems
from ironside.metadata import workflow_metadata
from ironside.server.metadata_view import logs_of
from ironside.store import open_store

from .batch_helpers import CallCounter, FakeClock, throttled
from .conftest import REGION

WDL = """version 1.0
task hello {
  input { Int i }
  command <<< echo ~{i} >>>
  output { Int n = i }
  runtime { docker: "ubuntu:24.04"  memory: "1 GiB"  maxRetries: 1 }
}
workflow wf {
  input { Int shards = 3 }
  scatter (i in range(shards)) { call hello { input: i = i } }
  output { Array[Int] ns = hello.n }
}
"""


class Harness:
    """A backend on moto, an engine, and hooks that play the jobs."""

    def __init__(self, config: dict[str, Any], batch: Any, s3: Any, tmp: Path) -> None:
        self.clock = FakeClock()
        self.batch, self.s3, self.tmp = batch, s3, tmp
        self.peer = boto3.client("batch", region_name=REGION)  # the agent's own client
        # the engine ticks in real time: the backend's clock too; its sleeps are only recorded
        self.backend: AwsBatchBackend = make_backend(
            config, batch=batch, s3=s3, clock=time.monotonic, sleep=self.clock.sleep
        )
        self.files = FileSystems(s3_client=s3)
        self.store = open_store(f"sqlite:///{tmp}/ironside.sqlite")
        self.counter = CallCounter(batch)
        self.rewrite: Callable[[dict[str, Any]], None] = lambda job: None
        self.no_rc: set[str] = set()
        self.submitted: list[str] = []
        batch.meta.events.register("after-call.batch.SubmitJob", self._write_rc)
        batch.meta.events.register("after-call.batch.DescribeJobs", self._rewrite)

    def _write_rc(self, parsed: dict[str, Any], **_: Any) -> None:
        if "jobId" not in parsed:
            return
        self.submitted.append(parsed["jobId"])
        job = self.peer.describe_jobs(jobs=[parsed["jobId"]])["jobs"][0]
        env = {e["name"]: e["value"] for e in job["container"]["environment"]}
        if job["jobName"] in self.no_rc:
            return
        bucket, _, prefix = env["IRONSIDE_CALL_ROOT"][len("s3://") :].partition("/")
        self.s3.put_object(Bucket=bucket, Key=f"{prefix}/execution/rc", Body=b"0\n")

    def _rewrite(self, parsed: dict[str, Any], **_: Any) -> None:
        for job in parsed.get("jobs", []):
            self.rewrite(job)

    def run(self, options: dict[str, Any] | None = None, **kw: Any) -> tuple[str, str]:
        """Run the workflow; (workflow id, final status)."""
        (self.tmp / "wf.wdl").write_text(WDL)
        (self.tmp / "options.json").write_text(json.dumps(options or {}))
        sub = S.prepare(str(self.tmp / "wf.wdl"), None, str(self.tmp / "options.json"))
        wf_id = S.store_submission(self.store, sub, self.backend.name, self.backend.settings.root)
        run = S.top_run(sub, wf_id, self.store.workflow(wf_id)["root"], files=self.files)
        engine = self.engine(self.store)
        engine.on_tick = kw.get("on_tick")
        engine.run(run)
        self.store.flush()
        return wf_id, run.status

    def engine(self, store: Any) -> Engine:
        """An engine on this harness's backend and file systems."""
        return Engine(
            store, self.backend, 50, poll_interval=0.0, flush_interval=0.0, files=self.files
        )


@pytest.fixture
def harness(config: dict[str, Any], batch: Any, s3: Any, tmp_path: Path) -> Iterator[Harness]:
    """The harness on moto, one job per shard (arrays: ``test_batch_arrays``)."""
    h = Harness({**config, "array-jobs": "never"}, batch, s3, tmp_path)
    yield h
    h.files.close()


def _submits(h: Harness) -> list[dict[str, Any]]:
    return h.counter.params.get("SubmitJob", [])


def test_throttled_submissions_and_polls_still_succeed(harness: Harness) -> None:
    left = {"SubmitJob": 3, "DescribeJobs": 2}

    def throttle(model: Any, **_: Any) -> None:
        if left[model.name]:
            left[model.name] -= 1
            raise throttled(model.name)

    harness.batch.meta.events.register("before-call.batch.SubmitJob", throttle)
    harness.batch.meta.events.register("before-call.batch.DescribeJobs", throttle)
    start = harness.backend.submit_limiter.rate
    _, status = harness.run()
    assert status == "Succeeded"
    assert left == {"SubmitJob": 0, "DescribeJobs": 0}
    names = [p["jobName"] for p in _submits(harness)]
    assert len(names) == 6 and len(set(names)) == 3  # 3 throttled calls retried, 3 jobs
    assert harness.backend.submit_limiter.rate < start  # slowed down
    assert not harness.clock.sleeps  # handed back to the engine, never waited


def test_a_refused_submission_fails_its_call_not_the_engine(harness: Harness) -> None:
    """AccessDenied on SubmitJob (say, the engine role may not pass the job role): the call
    fails after its retries with Batch's message; the scheduler goes on."""
    from .batch_helpers import aws_error

    def deny(**_: Any) -> None:
        raise aws_error("AccessDeniedException", 403, "SubmitJob", "not authorized: PassRole")

    harness.batch.meta.events.register("before-call.batch.SubmitJob", deny)
    wf_id, status = harness.run()
    assert status == "Failed"
    failures = json.dumps(workflow_metadata(harness.store, wf_id)["failures"])
    assert "submitting the job failed" in failures and "not authorized: PassRole" in failures
    names = [p["jobName"] for p in _submits(harness)]
    assert any("-a2-" in n for n in names) and len(names) <= 6  # maxRetries 1 applies


def test_spot_reclaim_is_a_new_attempt_not_a_failure(harness: Harness) -> None:
    reclaimed: set[str] = set()

    def spot(job: dict[str, Any]) -> None:
        if job["jobName"].startswith("wf-hello-0-a1-"):
            job.update(status="FAILED", statusReason="Host EC2 (instance i-0abc) terminated.")
            reclaimed.add(job["jobId"])

    harness.rewrite = spot

    def no_rc_for_first(params: dict[str, Any], **_: Any) -> None:
        if params["jobName"].startswith("wf-hello-0-a1-"):
            harness.no_rc.add(params["jobName"])

    harness.batch.meta.events.register("provide-client-params.batch.SubmitJob", no_rc_for_first)
    wf_id, status = harness.run()
    assert status == "Succeeded"
    names = sorted(p["jobName"] for p in _submits(harness))
    assert sum(n.startswith("wf-hello-0-a") for n in names) == 2  # attempt 1 and 2
    assert reclaimed
    md = workflow_metadata(harness.store, wf_id)
    shard0 = [c for c in md["calls"]["wf.hello"] if c["shardIndex"] == 0]
    assert [c["executionStatus"] for c in sorted(shard0, key=lambda c: c["attempt"])] == [
        "RetryableFailure",
        "Done",
    ]
    assert "Host EC2" in shard0[0]["failures"][0]["message"]


def test_out_of_memory_retried_with_more_memory(harness: Harness) -> None:
    def oom(job: dict[str, Any]) -> None:
        if job["jobName"].startswith("wf-hello-1-a1-"):
            job.update(status="FAILED", statusReason="Essential container in task exited")
            job["container"].update(exitCode=137, reason="OutOfMemoryError: Container killed")

    def no_rc_for_first(params: dict[str, Any], **_: Any) -> None:
        if params["jobName"].startswith("wf-hello-1-a1-"):
            harness.no_rc.add(params["jobName"])

    harness.rewrite = oom
    harness.batch.meta.events.register("provide-client-params.batch.SubmitJob", no_rc_for_first)
    wf_id, status = harness.run({"memory_retry_multiplier": 2.0})
    assert status == "Succeeded"
    memory = {
        p["jobName"].split("-wf")[0][:14]: {
            r["type"]: r["value"] for r in p["containerOverrides"]["resourceRequirements"]
        }["MEMORY"]
        for p in _submits(harness)
    }
    assert memory["wf-hello-1-a1-"] == "1024" and memory["wf-hello-1-a2-"] == "2048"
    md = workflow_metadata(harness.store, wf_id)
    first = next(c for c in md["calls"]["wf.hello"] if c["shardIndex"] == 1 and c["attempt"] == 1)
    assert first["backendFailure"]["exitCode"] == 137
    assert "exit code 137" in first["failures"][0]["message"]
    assert first["dockerImageRequested"] == "ubuntu:24.04"
    assert first["dockerImageUsed"] == "ubuntu:24.04"
    logs = logs_of(md)["calls"]["wf.hello"]
    assert all("stdout" in entry for entry in logs)


def test_abort_terminates_every_running_job(harness: Harness) -> None:
    terminated: set[str] = set()

    def still_running(job: dict[str, Any]) -> None:
        if job["jobId"] not in terminated:
            job["status"] = "RUNNING"

    def on_terminate(params: dict[str, Any], **_: Any) -> None:
        terminated.add(params["jobId"])

    harness.rewrite = still_running
    harness.batch.meta.events.register("provide-client-params.batch.TerminateJob", on_terminate)

    asked: list[int] = []

    def abort_once_running(engine: Engine) -> None:
        if len(engine.running) == 3 and not asked:  # the user asks once
            asked.append(1)
            engine.abort_all()

    _, status = harness.run(on_tick=abort_once_running)
    assert status == "Aborted"
    submitted = {p["jobName"] for p in _submits(harness)}
    assert len(submitted) == 3 and harness.counter.calls["TerminateJob"] == 3


class Crash(Exception):
    """Stands for the engine process dying."""


def test_restart_adopts_jobs_submitted_but_not_recorded(harness: Harness, tmp_path: Path) -> None:
    """Killed right after submitting, before any job id reached the database (only the
    attempts' intent had): the new engine finds each job by its unique name and never
    submits it again."""

    def die(engine: Engine) -> None:
        if len(engine.running) == 3:
            raise Crash

    with pytest.raises(Crash):
        harness.run(on_tick=die)
    assert harness.counter.calls["SubmitJob"] == 3
    store = open_store(f"sqlite:///{tmp_path}/ironside.sqlite")  # the dead engine's queue is gone
    (wf_id,) = [w["id"] for w in store.workflows()]
    # write-ahead: the intent of each submitted attempt was stored, its job id not yet
    assert {(c["status"], c["job_id"]) for c in store.calls(wf_id)} == {("Starting", None)}
    sub, row = S.load_stored(store, wf_id)
    run = S.top_run(sub, wf_id, row["root"], resume=store, files=harness.files)
    harness.engine(store).run(run)
    assert run.status == "Succeeded"
    assert harness.counter.calls["SubmitJob"] == 3
    assert harness.counter.calls["ListJobs"] >= 3  # adopted by name
    store.flush()
    assert {c["job_id"] for c in store.calls(wf_id)} == set(harness.submitted)
