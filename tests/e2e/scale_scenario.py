"""Many workflows at once through the real server on AWS Batch (moto), with the calls counted.

``run_scale`` submits ``workflows`` workflows of ``shards`` shards each over HTTP, at
once, to a server built with its default settings; every job is kept RUNNING for
``hold`` seconds after it was submitted (DescribeJobs answers are rewritten), so
that many jobs of many workflows are in flight together. It returns what the
test and ``bench/server_scale.py`` check: calls by operation, job ids per
DescribeJobs, DescribeJobs calls per poll cycle, the peak of workflows Running.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ironside.assembly import build_service
from ironside.config import load_settings
from ironside.server.app import create_app
from ironside.server.engine_adapter import StoreEngine
from ironside.server.settings import ServerSettings
from tests.e2e.batch_harness import JobAgent, OperationCounter, client, config_text
from tests.runtime.server.live import serve

WDL = """version 1.0
task shard {
  input { Int k  Int i }
  command <<< echo ~{i} > out.txt >>>
  output { Int n = k * 1000 + i }
  runtime { docker: "ubuntu:24.04"  cpu: 1  memory: "512 MB" }
}
workflow scale {
  input { Int k  Int shards }
  scatter (i in range(shards)) { call shard { input: k = k, i = i } }
  output { Array[Int] ns = shard.n }
}
"""


@dataclass
class ScaleFigures:
    """What one scenario measured."""

    tasks: int
    wall: float
    calls: Mapping[str, int]
    ids_per_describe: list[int] = field(default_factory=list)
    cycles: list[tuple[int, int]] = field(default_factory=list)  # (jobs polled, DescribeJobs)
    peak_running: int = 0
    statuses: dict[str, str] = field(default_factory=dict)
    wrong_outputs: int = 0

    @property
    def worst_cycle_excess(self) -> int:
        """Most DescribeJobs calls a poll cycle made beyond ceil(active / 100)."""
        return max((d - math.ceil(n / 100) for n, d in self.cycles), default=0)


class _Hold:
    """Keeps each job RUNNING in DescribeJobs answers until ``hold`` s after its SubmitJob."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.submitted: dict[str, float] = {}

    def attach(self, batch: Any, figures: ScaleFigures) -> None:
        batch.meta.events.register("after-call.batch.SubmitJob", self._submitted)
        batch.meta.events.register("after-call.batch.DescribeJobs", self._rewrite)

        def count(params: dict[str, Any], **_: Any) -> None:
            figures.ids_per_describe.append(len(params.get("jobs", [])))

        batch.meta.events.register("provide-client-params.batch.DescribeJobs", count)

    def _submitted(self, parsed: dict[str, Any], **_: Any) -> None:
        if "jobId" in parsed:
            self.submitted[parsed["jobId"]] = time.monotonic()

    def _rewrite(self, parsed: dict[str, Any], **_: Any) -> None:
        now = time.monotonic()
        for job in parsed.get("jobs", []):
            if now - self.submitted.get(job["jobId"], 0.0) < self.hold:
                job["status"] = "RUNNING"


def run_scale(
    endpoint: str, queue: str, workdir: Path, workflows: int, shards: int, hold: float
) -> ScaleFigures:
    """Run the scenario against the moto server at ``endpoint``; the figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "server.conf"
    # one job a shard: the scenario measures the poller and caches shared by single jobs
    text = config_text(
        queue, str(workdir / "ironside.sqlite"), job_limit=workflows * shards, array_jobs="never"
    )
    conf.write_text(
        text.replace("numSubmitAttempts = 6", "numSubmitAttempts = 6\n submit-rate = 50")
    )
    batch, s3 = client("batch", endpoint), client("s3", endpoint)
    figures = ScaleFigures(workflows * shards, 0.0, {})
    JobAgent(endpoint, workdir / "host", mode="rc-only").attach(batch)
    _Hold(hold).attach(batch, figures)
    counter = OperationCounter(batch, s3)
    settings = load_settings(str(conf))
    port = StoreEngine(settings, build_service(settings, batch=batch, s3=s3))
    _count_cycles(port, figures, counter)
    started = time.monotonic()
    try:
        with (
            serve(create_app(ServerSettings(), port)) as url,
            httpx.Client(base_url=url, timeout=120) as http,
        ):
            ids = _submit_all(http, workflows, shards)
            figures.statuses, figures.peak_running = _watch(http, port, ids)
            figures.wall = time.monotonic() - started
            figures.wrong_outputs = _wrong_outputs(http, ids, shards)
    finally:
        port.stop()
    figures.calls = dict(counter.calls)
    return figures


def _count_cycles(port: StoreEngine, figures: ScaleFigures, counter: OperationCounter) -> None:
    backend = port.service.backend
    real_poll = backend.poll

    def poll(job_ids: Sequence[str]) -> Any:
        before = counter.calls["DescribeJobs"]
        states = real_poll(job_ids)
        figures.cycles.append((len(job_ids), counter.calls["DescribeJobs"] - before))
        return states

    backend.poll = poll  # type: ignore[method-assign]


def _submit_all(http: httpx.Client, workflows: int, shards: int) -> list[str]:
    def submit(k: int) -> str:
        inputs = {"scale.k": k, "scale.shards": shards}
        files = {
            "workflowSource": ("w.wdl", WDL.encode()),
            "workflowInputs": ("i.json", json.dumps(inputs).encode()),
        }
        answer = http.post("/api/workflows/v1", files=files)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(submit, range(workflows)))


def _watch(http: httpx.Client, port: StoreEngine, ids: list[str]) -> tuple[dict[str, str], int]:
    """Wait for every workflow; the statuses and the most workflows Running at once.

    One query a sample (every 0.5 s), so that watching costs the engine little.
    """
    peak = 0
    wanted = set(ids)
    deadline = time.monotonic() + 900
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        rows = port.store.workflows()
        statuses = {r["id"]: r["status"] for r in rows if r["id"] in wanted}
        peak = max(peak, sum(1 for s in statuses.values() if s == "Running"))
        if len(statuses) == len(wanted) and all(
            s in ("Succeeded", "Failed", "Aborted") for s in statuses.values()
        ):
            break
        time.sleep(0.5)
    return statuses, peak


def _wrong_outputs(http: httpx.Client, ids: list[str], shards: int) -> int:
    wrong = 0
    for k, wf in enumerate(ids):
        outputs = http.get(f"/api/workflows/v1/{wf}/outputs").json().get("outputs", {})
        expected = [k * 1000 + i for i in range(shards)]
        got = outputs.get("scale.ns", [])
        wrong += sum(1 for a, b in zip(got, expected, strict=False) if a != b)
        wrong += abs(len(got) - shards)
    return wrong
