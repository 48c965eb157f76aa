"""AWS Batch API economy: an N-shard scatter through ``ironside run`` against a moto server.

Counts every Batch and S3 request of the engine by operation (botocore event
hooks on the engine's own clients) and checks the targets of issue 6:

- SubmitJob: 1.00 per task;
- RegisterJobDefinition: one per distinct definition (1 here: one image, one role);
- DescribeJobs: at most ceil(active / 100) per poll cycle;
- script PUTs: at most one per distinct script.

A job agent (``tests/e2e/batch_harness.py``) answers each SubmitJob inside the
call. ``--agent rc-only`` (default) writes the ``rc`` the task script would,
so 1,000 jobs take no 1,000 AWS CLI processes; ``--agent fetch_and_run`` runs
the real ``fetch_and_run.sh`` and task script (slow: use few shards).

    python bench/batch_api_economy.py --shards 1000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# whole-module imports: ``from package import submodule`` made an incremental mypy run
# (a warm cache) report the submodules as missing attributes of their packages
import ironside.backends.aws_batch.wiring as wiring  # noqa: E402
import ironside.cli as cli  # noqa: E402
from ironside.backends.aws_batch.backend import AwsBatchBackend  # noqa: E402
from tests.e2e.batch_harness import (  # noqa: E402
    SCRIPT_BUCKET,
    JobAgent,
    OperationCounter,
    aws_env,
    config_text,
    make_queue,
    start_moto,
)

WDL = """version 1.0
task shard {
  input { Int i }
  command <<< echo ~{i} > out.txt >>>
  output { Int n = i }
  runtime { docker: "ubuntu:24.04"  cpu: 1  memory: "512 MB" }
}
workflow economy {
  input { Int shards }
  scatter (i in range(shards)) { call shard { input: i = i } }
  output { Array[Int] ns = shard.n }
}
"""


class Meter:
    """Request counts by operation, SubmitJob's script PUTs, and each poll cycle's size."""

    def __init__(self) -> None:
        self.counter: OperationCounter | None = None
        self.script_puts = 0
        self.scripts: set[str] = set()  # distinct script URLs SubmitJob pointed jobs at
        self.cycles: list[tuple[int, int]] = []  # (jobs polled, DescribeJobs calls)

    def hook(self, agent: JobAgent) -> None:
        """Wrap ``make_clients`` (agent + counters) and ``AwsBatchBackend.poll`` (cycles)."""
        real_clients = wiring.make_clients
        real_poll = AwsBatchBackend.poll

        def make_clients(settings: Any, **kwargs: Any) -> tuple[Any, Any]:
            batch, s3 = real_clients(settings, **kwargs)
            agent.attach(batch)
            self.counter = OperationCounter(batch, s3)
            s3.meta.events.register("provide-client-params.s3.PutObject", self._put)
            batch.meta.events.register("provide-client-params.batch.SubmitJob", self._submit)
            return batch, s3

        def poll(backend: AwsBatchBackend, job_ids: Any) -> Any:
            assert self.counter is not None
            before = self.counter.calls["DescribeJobs"]
            states = real_poll(backend, job_ids)
            self.cycles.append((len(job_ids), self.counter.calls["DescribeJobs"] - before))
            return states

        wiring.make_clients = make_clients  # type: ignore[assignment]
        AwsBatchBackend.poll = poll  # type: ignore[method-assign,assignment]

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("Bucket") == SCRIPT_BUCKET:
            self.script_puts += 1

    def _submit(self, params: dict[str, Any], **_: Any) -> None:
        for item in params.get("containerOverrides", {}).get("environment", []):
            if item["name"] == "BATCH_FILE_S3_URL":
                self.scripts.add(item["value"])


def run(shards: int, agent_mode: str, workdir: Path) -> int:
    """Run the scatter; print the figures; 0 when every target is met."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    server, endpoint = start_moto()
    os.environ.update(aws_env(endpoint))
    try:
        queue = make_queue(endpoint, "economy")
        conf = workdir / "ironside.conf"
        text = config_text(queue, str(workdir / "ironside.sqlite"), job_limit=shards)
        conf.write_text(
            text.replace("numSubmitAttempts = 6", "numSubmitAttempts = 6\n submit-rate = 500")
        )
        (workdir / "economy.wdl").write_text(WDL)
        (workdir / "inputs.json").write_text(json.dumps({"economy.shards": shards}))
        meter = Meter()
        agent = JobAgent(endpoint, workdir / "host", mode=agent_mode)
        meter.hook(agent)
        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):  # the outputs JSON
            rc = cli.main(
                [
                    "run",
                    "--config",
                    str(conf),
                    str(workdir / "economy.wdl"),
                    "-i",
                    str(workdir / "inputs.json"),
                ]
            )
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    return report(meter, shards, rc, elapsed)


def report(meter: Meter, tasks: int, rc: int, elapsed: float) -> int:
    """Print per-task calls by operation and the checks."""
    assert meter.counter is not None
    calls = meter.counter.calls
    print(f"\n{tasks} tasks, workflow exit code {rc}, {elapsed:.1f} s")
    print(f"{'operation':<28}{'calls':>8}{'per task':>10}")
    for op, n in sorted(calls.items()):
        print(f"{op:<28}{n:>8}{n / tasks:>10.3f}")
    worst = max((d - math.ceil(active / 100) for active, d in meter.cycles), default=0)
    checks = {
        "workflow succeeded": rc == 0,
        f"SubmitJob 1.00/task ({calls['SubmitJob'] / tasks:.2f})": calls["SubmitJob"] == tasks,
        f"RegisterJobDefinition == 1 ({calls['RegisterJobDefinition']})": calls[
            "RegisterJobDefinition"
        ]
        == 1,
        f"DescribeJobs <= ceil(active/100) per poll cycle ({len(meter.cycles)} cycles, "
        f"max excess {worst})": worst <= 0,
        f"script PUTs <= distinct scripts ({meter.script_puts} PUTs, "
        f"{len(meter.scripts)} distinct)": 0 < meter.script_puts <= len(meter.scripts),
    }
    for name, ok in checks.items():
        print(f"{'OK  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=1000)
    parser.add_argument("--agent", choices=("rc-only", "fetch_and_run"), default="rc-only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="batch-economy-") as tmp:
        return run(args.shards, args.agent, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
