"""Fault injection for the engine's AWS clients, and the engine run through its composition root.

``Faults`` raises a throttling error from a ``before-call`` hook (the call never
reaches moto) on a seeded share of calls or during a time window, and records
when each call was made. ``S3Faults`` answers a seeded share of S3 HTTP requests
with a 500 from ``before-send``, so botocore's own retries see a real 500.
``run_scatter`` runs an N-shard workflow with ``build_service`` on moto, with the
job agent writing each job's ``rc`` as it is submitted.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from ironside.assembly import build_service
from ironside.backends.aws_batch.clients import batch_client_config, s3_client_config
from ironside.config import load_settings
from ironside.engine import submit as S
from tests.e2e.batch_harness import CREDS, JobAgent, config_text, make_queue
from tests.runtime.aws_batch.batch_helpers import throttled

WDL = """version 1.0
task echo {
  input { Int i }
  command <<< echo ~{i} >>>
  output { Int n = i }
  runtime { docker: "ubuntu:24.04"  memory: "512 MB" }
}
workflow wf {
  input { Int shards }
  scatter (i in range(shards)) { call echo { input: i = i } }
  output { Array[Int] ns = echo.n }
}
"""


@dataclass
class Faults:
    """Throttles operations of one client: a seeded share of calls, or every call for a while."""

    rng: random.Random
    share: dict[str, float] = field(default_factory=dict)  # operation -> share throttled
    window: dict[str, float] = field(default_factory=dict)  # operation -> seconds throttled
    clock: Callable[[], float] = time.monotonic
    calls: dict[str, list[float]] = field(default_factory=dict)  # operation -> call times
    refused: dict[str, int] = field(default_factory=dict)
    started: float = 0.0

    def attach(self, batch: Any) -> None:
        """Record and throttle ``batch``'s calls (windows start now)."""
        self.started = self.clock()
        batch.meta.events.register("before-call.batch.*", self._before_call)

    def _before_call(self, model: Any, **_: Any) -> None:
        op, now = model.name, self.clock()
        self.calls.setdefault(op, []).append(now)
        in_window = now - self.started < self.window.get(op, 0.0)
        if in_window or self.rng.random() < self.share.get(op, 0.0):
            self.refused[op] = self.refused.get(op, 0) + 1
            raise throttled(op)

    def succeeded(self, op: str) -> int:
        """Calls of ``op`` that went through."""
        return len(self.calls.get(op, [])) - self.refused.get(op, 0)

    def max_gap(self, op: str) -> float:
        """The longest time between two calls of ``op``."""
        times = self.calls.get(op, [])
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@dataclass
class S3Faults:
    """A seeded share of S3 HTTP requests answered 500 InternalError (botocore retries them)."""

    rng: random.Random
    share: float
    sent: dict[str, int] = field(default_factory=dict)  # operation -> HTTP requests
    failed: dict[str, int] = field(default_factory=dict)

    def attach(self, s3: Any) -> None:
        """Inject into every request ``s3`` sends."""
        s3.meta.events.register("before-send.s3.*", self._before_send)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        op = event_name.rsplit(".", 1)[-1]
        self.sent[op] = self.sent.get(op, 0) + 1
        if self.rng.random() >= self.share:
            return None
        self.failed[op] = self.failed.get(op, 0) + 1
        body = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
        return AWSResponse(request.url, 500, {}, _Body(body))


@dataclass
class Run:
    """What one faulty run left behind."""

    status: str
    outputs: dict[str, Any]
    agent: JobAgent
    names: list[str]  # job names of the successful SubmitJob calls


def run_scatter(
    endpoint: str,
    tmp: Path,
    shards: int,
    *,
    batch: Any,
    s3: Any,
    extra_config: str = "",
    job_limit: int = 50,
    poll_interval: float = 1.0,
) -> Run:
    """``shards`` tasks through the real engine (``build_service``) on moto; the run's result."""
    queue = make_queue(endpoint, f"q{abs(hash(str(tmp))) % 10**8}")
    # one job a shard: these faults are counted per SubmitJob (arrays: test_batch_arrays)
    conf = config_text(queue, str(tmp / "ironside.sqlite"), job_limit=job_limit, array_jobs="never")
    conf = conf.replace("numSubmitAttempts = 6", f"numSubmitAttempts = 6\n{extra_config}")
    (tmp / "ironside.conf").write_text(conf)
    (tmp / "wf.wdl").write_text(WDL)
    (tmp / "inputs.json").write_text(json.dumps({"wf.shards": shards}))
    agent = JobAgent(endpoint, tmp / "host", mode="rc-only")
    agent.attach(batch)
    names: list[str] = []
    batch.meta.events.register(
        "after-call.batch.SubmitJob",
        lambda parsed, **_: names.append(parsed["jobName"]) if "jobId" in parsed else None,
    )
    service = build_service(
        load_settings(str(tmp / "ironside.conf")), batch=batch, s3=s3, poll_interval=poll_interval
    )
    try:
        sub = S.prepare(str(tmp / "wf.wdl"), str(tmp / "inputs.json"), None)
        wf_id = service.store_only(sub)
        run = service.run_foreground(wf_id, sub)
        outputs = run.final_outputs or {}
        return Run(run.status, outputs, agent, names)
    finally:
        service.close()


def engine_clients(endpoint: str) -> tuple[Any, Any]:
    """Batch and S3 clients on moto, configured as the engine makes its own."""
    batch = boto3.client("batch", endpoint_url=endpoint, config=batch_client_config(), **CREDS)
    s3 = boto3.client("s3", endpoint_url=endpoint, config=s3_client_config(), **CREDS)
    return batch, s3
