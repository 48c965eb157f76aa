"""Scatters as AWS Batch array jobs, end to end: ``ironside run``, moto server, the job agent.

The engine is the real one; the agent plays each array child (``<array id>:<index>``,
``AWS_BATCH_JOB_ARRAY_INDEX`` set). Large scatters use the rc-only agent (the rc the
task script would write); the retry cases run the real ``fetch_and_run.sh``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ironside import cli
from ironside.backends.aws_batch import wiring
from ironside.engine import scheduler

from .batch_harness import (
    NEEDS_AGENT,
    JobAgent,
    OperationCounter,
    aws_env,
    config_text,
    make_queue,
    start_moto,
)

pytestmark = [pytest.mark.slow, *NEEDS_AGENT]

WDL = """version 1.0
task shard {
  input { Int i  Int fail_in_array = -1 }
  command <<<
    if [ ~{i} -eq ~{fail_in_array} ] && [ -n "${AWS_BATCH_JOB_ARRAY_INDEX:-}" ]; then
      echo "shard ~{i} fails in its array" >&2
      exit 3
    fi
    echo $(( ~{i} * 2 )) > n.txt
  >>>
  output { Int n = i * 2 }
  runtime { docker: "debian@sha256:DIGEST"  cpu: 1  memory: "512 MiB"  maxRetries: 1 }
}
workflow arrays {
  input { Int shards  Int fail_in_array = -1 }
  scatter (i in range(shards)) { call shard { input: i = i, fail_in_array = fail_in_array } }
  output { Array[Int] ns = shard.n }
}
""".replace("DIGEST", "d" * 64)  # pinned: call caching needs no registry lookup


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The moto server."""
    server, url = start_moto()
    yield url
    server.stop()


class World:
    """A queue, a config, the agent and counters on the engine's clients; runs workflows."""

    def __init__(self, endpoint: str, tmp: Path, mode: str, monkeypatch: Any) -> None:
        self.tmp = tmp
        self.queue = make_queue(endpoint, f"a{abs(hash(str(tmp))) % 10**8}")
        self.agent = JobAgent(endpoint, tmp / "host", mode=mode)
        self.counters: list[OperationCounter] = []
        self.submits: list[dict[str, Any]] = []
        self.describe_hooks: list[Any] = []
        (tmp / "arrays.wdl").write_text(WDL)
        real = wiring.make_clients

        def make_clients(settings: Any, **kwargs: Any) -> tuple[Any, Any]:
            batch, s3 = real(settings, **kwargs)
            self.agent.attach(batch)
            self.counters.append(OperationCounter(batch, s3))
            batch.meta.events.register("provide-client-params.batch.SubmitJob", self._submit)
            for hook in self.describe_hooks:
                batch.meta.events.register("after-call.batch.DescribeJobs", hook)
            return batch, s3

        monkeypatch.setattr(wiring, "make_clients", make_clients)

    def _submit(self, params: dict[str, Any], **_: Any) -> None:
        self.submits.append(params)

    def calls(self, op: str) -> int:
        """How many ``op`` requests the engine's clients sent."""
        return sum(c.calls[op] for c in self.counters)

    def array_sizes(self) -> list[int]:
        """The size of each array job submitted (single jobs left out)."""
        return [p["arrayProperties"]["size"] for p in self.submits if "arrayProperties" in p]

    def run(
        self,
        shards: int,
        capsys: pytest.CaptureFixture[str],
        extra_config: str = "",
        options: dict[str, Any] | None = None,
        **inputs: Any,
    ) -> dict[str, Any]:
        """One ``ironside run`` of the scatter; its printed result (fails unless it succeeds)."""
        conf = self.tmp / "ironside.conf"
        text = config_text(self.queue, str(self.tmp / "ironside.sqlite"), job_limit=shards)
        rate = "numSubmitAttempts = 6\n submit-rate = 500"
        conf.write_text(text.replace("numSubmitAttempts = 6", rate) + extra_config)
        inputs_file = self.tmp / "inputs.json"
        body = {"arrays.shards": shards, **{f"arrays.{k}": v for k, v in inputs.items()}}
        inputs_file.write_text(json.dumps(body))
        argv = ["run", "--config", str(conf), str(self.tmp / "arrays.wdl"), "-i", str(inputs_file)]
        if options is not None:
            (self.tmp / "options.json").write_text(json.dumps(options))
            argv += ["-o", str(self.tmp / "options.json")]
        capsys.readouterr()
        rc = cli.main(argv)
        out = capsys.readouterr()
        assert rc == 0, out.err[-3000:]
        return dict(json.loads(out.out[out.out.index("{") :]))

    def job_rows(self, wf_id: str) -> dict[tuple[int, int], str]:
        """(shard, attempt) -> the stored job id of each attempt of the workflow."""
        with sqlite3.connect(self.tmp / "ironside.sqlite") as conn:
            rows = conn.execute(
                "SELECT shard, attempt, job_id FROM ironside_call WHERE workflow_id = ?", (wf_id,)
            ).fetchall()
        return {(shard, attempt): job for shard, attempt, job in rows}


@pytest.fixture
def world(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: Any) -> World:
    """The world with the rc-only agent (``@pytest.mark.parametrize("world", [...])`` aside)."""
    for key, value in aws_env(endpoint).items():
        monkeypatch.setenv(key, value)
    mode = getattr(request, "param", "rc-only")
    return World(endpoint, tmp_path, mode, monkeypatch)


def test_2500_shards_are_one_array_job(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    result = world.run(2500, capsys)
    assert result["outputs"]["arrays.ns"] == [2 * i for i in range(2500)]
    assert world.calls("SubmitJob") == 1
    assert world.array_sizes() == [2500]  # 0 single jobs
    [(array_id, size)] = world.agent.arrays.items()
    jobs = world.job_rows(result["id"])
    assert jobs == {(i, 1): f"{array_id}:{i}" for i in range(size)}  # each shard: its child
    # children described 100 a call, each child about once (its state is final at once here)
    assert world.calls("DescribeJobs") <= 2 * 2500 / 100


@pytest.mark.skipif(
    not os.environ.get("IRONSIDE_LARGE_TESTS"),
    reason="25,000 shards take minutes on moto: set IRONSIDE_LARGE_TESTS=1",
)
def test_25000_shards_are_three_submit_jobs(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    result = world.run(25_000, capsys)
    assert result["outputs"]["arrays.ns"] == [2 * i for i in range(25_000)]
    assert world.calls("SubmitJob") == 3
    assert sorted(world.array_sizes()) == [5000, 10_000, 10_000]


@pytest.mark.parametrize("world", ["fetch_and_run"], indirect=True)
def test_failing_child_is_retried_alone(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Shard 1's command fails in the array (rc 3, maxRetries 1): attempt 2 is a single job."""
    result = world.run(3, capsys, fail_in_array=1)
    assert result["outputs"]["arrays.ns"] == [0, 2, 4]
    assert [r.returncode for r in world.agent.runs] == [0, 3, 0, 0]
    assert world.array_sizes() == [3]
    single = [p for p in world.submits if "arrayProperties" not in p]
    assert len(single) == 1 and "-shard-1-a2-" in single[0]["jobName"]
    jobs = world.job_rows(result["id"])
    assert jobs[(1, 2)] == world.agent.job_ids[-1] and ":" not in jobs[(1, 2)]


def test_out_of_memory_child_is_retried_with_more_memory(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Batch kills child 2 for memory (no rc): attempt 2 asks for twice the memory, alone."""
    oom: set[str] = set()

    def kill_child_2(job_id: str) -> bool:
        if job_id.endswith(":2"):
            oom.add(job_id)
            return False  # the script never finished: no rc
        return True

    def report_oom(parsed: dict[str, Any], **_: Any) -> None:
        for job in parsed.get("jobs", []):
            if job["jobId"] in oom:
                job.update(status="FAILED", statusReason="Essential container in task exited")
                job["container"].update(exitCode=137, reason="OutOfMemoryError: Container killed")

    world.agent.before_run = kill_child_2
    world.describe_hooks.append(report_oom)
    result = world.run(4, capsys, options={"memory_retry_multiplier": 2.0})
    assert result["outputs"]["arrays.ns"] == [0, 2, 4, 6]
    memory = [
        {r["type"]: r["value"] for r in p["containerOverrides"]["resourceRequirements"]}["MEMORY"]
        for p in world.submits
    ]
    assert world.array_sizes() == [4] and memory == ["512", "1024"]
    assert "-shard-2-a2-" in world.submits[1]["jobName"]


def test_cache_hits_are_left_out_of_the_array(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Shards 0-9 ran before: of 20 shards, the array holds the other 10, indices 0-9."""
    caching = "\ncall-caching.enabled = true\n"
    world.run(10, capsys, caching)
    result = world.run(20, capsys, caching)
    assert result["outputs"]["arrays.ns"] == [2 * i for i in range(20)]
    assert world.array_sizes() == [10, 10]
    array_id = list(world.agent.arrays)[-1]
    jobs = world.job_rows(result["id"])
    assert {s: jobs[(s, 1)] for s in range(10, 20)} == {
        s: f"{array_id}:{s - 10}" for s in range(10, 20)
    }
    assert all(jobs[(s, 1)] is None for s in range(10))  # cache hits: no job


def test_array_jobs_never_submits_one_job_a_shard(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.run(5, capsys, '\nbackend.providers.AWSBatch.config.array-jobs = "never"\n')
    assert world.calls("SubmitJob") == 5 and world.array_sizes() == []


def test_a_scatter_beyond_one_submission_batch_goes_as_one_array_a_batch(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine holds at most ``SUBMIT_BATCH`` rendered scripts: 10 shards, batches of 4."""
    monkeypatch.setattr(scheduler, "SUBMIT_BATCH", 4)
    result = world.run(10, capsys)
    assert result["outputs"]["arrays.ns"] == [2 * i for i in range(10)]
    assert world.array_sizes() == [4, 4, 2] and world.calls("SubmitJob") == 3
