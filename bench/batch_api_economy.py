"""AWS Batch API economy: an N-shard scatter through ``ironside run`` against a moto server.

Counts every Batch and S3 request of the engine by operation (botocore event
hooks on the engine's own clients) and checks the targets of issues 6 and 18:

- SubmitJob: ``--array-jobs never``: 1.00 per task; ``auto`` (the default): one per
  array of up to 10,000 children (<= 10 for 100,000 shards);
- RegisterJobDefinition: one per distinct definition (1 here: one image, one role);
- DescribeJobs: at most ceil(active / 100) per poll cycle;
- script PUTs: at most one per distinct script (arrays: two an array, its packed
  scripts and its manifest);
- the submission phase at the 50 TPS SubmitJob quota: quota-bound time of one
  SubmitJob per shard (shards / 50 s) over this run's (its measured time in
  ``submit_all`` or SubmitJobs / 50 s, whichever is longer): >= 50 with arrays;
- the engine process's peak RSS (moto runs in its own process): <= 1 GB.

A job agent (``tests/e2e/batch_harness.py``) answers each SubmitJob inside the
call. ``--agent rc-only`` (default) writes the ``rc`` the task script would,
so 1,000 jobs take no 1,000 AWS CLI processes; ``--agent fetch_and_run`` runs
the real ``fetch_and_run.sh`` and task script (slow: use few shards).

    python bench/batch_api_economy.py --shards 100000
    python bench/batch_api_economy.py --shards 2000 --array-jobs never
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
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
    client,
    config_text,
    make_queue,
)

#: AWS Batch's SubmitJob quota (calls per second per account and Region).
SUBMIT_QUOTA = 50.0

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
        self.submit_seconds = 0.0  # time spent in AwsBatchBackend.submit_all
        self.arrays: list[tuple[str, int]] = []  # (array job id, size)
        #: seconds submit_all waited on moto's answer to SubmitJob and to the script PUTs
        self.moto_seconds = {"SubmitJob": 0.0, "PutObject": 0.0}
        self._sent: dict[str, float] = {}
        self._submitting = False

    def hook(self, agent: JobAgent) -> None:
        """Wrap ``make_clients`` (agent + counters) and ``AwsBatchBackend.poll`` (cycles)."""
        real_clients = wiring.make_clients
        real_poll = AwsBatchBackend.poll
        real_submit_all = AwsBatchBackend.submit_all

        def make_clients(settings: Any, **kwargs: Any) -> tuple[Any, Any]:
            batch, s3 = real_clients(settings, **kwargs)
            agent.attach(batch)
            self.counter = OperationCounter(batch, s3)
            s3.meta.events.register("provide-client-params.s3.PutObject", self._put)
            batch.meta.events.register("provide-client-params.batch.SubmitJob", self._submit)
            for c, op in ((batch, "SubmitJob"), (s3, "PutObject")):
                service = c.meta.service_model.service_name
                c.meta.events.register(f"before-call.{service}.{op}", self._sending)
                # first: before the job agent plays the jobs (its time is counted apart)
                c.meta.events.register_first(f"after-call.{service}.{op}", self._answered)
            return batch, s3

        def poll(backend: AwsBatchBackend, job_ids: Any) -> Any:
            assert self.counter is not None
            before = self.counter.calls["DescribeJobs"]
            states = real_poll(backend, job_ids)
            self.cycles.append((len(job_ids), self.counter.calls["DescribeJobs"] - before))
            return states

        def submit_all(backend: AwsBatchBackend, requests: Any) -> Any:
            outcomes = real_submit_all(backend, requests)
            while True:
                started = time.monotonic()
                self._submitting = True
                try:
                    item = next(outcomes)
                except StopIteration:
                    return
                finally:
                    self._submitting = False
                    self.submit_seconds += time.monotonic() - started
                yield item

        wiring.make_clients = make_clients  # type: ignore[assignment]
        AwsBatchBackend.poll = poll  # type: ignore[method-assign,assignment]
        AwsBatchBackend.submit_all = submit_all  # type: ignore[method-assign,assignment]

    def _sending(self, model: Any, **_: Any) -> None:
        self._sent[model.name] = time.monotonic()

    def _answered(self, model: Any, **_: Any) -> None:
        if model.name in self._sent and self._submitting:
            self.moto_seconds[model.name] += time.monotonic() - self._sent.pop(model.name)

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("Bucket") == SCRIPT_BUCKET:
            self.script_puts += 1

    def _submit(self, params: dict[str, Any], **_: Any) -> None:
        for item in params.get("containerOverrides", {}).get("environment", []):
            if item["name"] == "BATCH_FILE_S3_URL":
                self.scripts.add(item["value"])


def moto_process() -> tuple[subprocess.Popen[bytes], str]:
    """A moto server in its own process (its memory is not the engine's), Docker-less Batch,
    with the array-job fix of ``tests/e2e/moto_fixes.py``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.moto_fixes", "-H", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    body = json.dumps({"batch": {"use_docker": False}}).encode()
    for _ in range(100):
        try:
            req = urllib.request.Request(f"{url}/moto-api/config", data=body, method="POST")
            urllib.request.urlopen(req, timeout=5).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def run(shards: int, agent_mode: str, array_jobs: str, workdir: Path) -> int:
    """Run the scatter; print the figures; 0 when every target is met."""
    server, endpoint = moto_process()
    os.environ.update(aws_env(endpoint))
    try:
        queue = make_queue(endpoint, "economy")
        conf = workdir / "ironside.conf"
        text = config_text(
            queue, str(workdir / "ironside.sqlite"), job_limit=shards, array_jobs=array_jobs
        )
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
        if agent.arrays:
            status_calls(endpoint, *max(agent.arrays.items(), key=lambda item: item[1]))
    finally:
        server.kill()
        server.wait()
    meter.submit_seconds -= agent.seconds  # the agent plays the jobs inside SubmitJob
    return report(meter, shards, rc, elapsed, array_jobs)


def status_calls(endpoint: str, array_id: str, size: int) -> None:
    """Calls to learn the state of a 99%-finished array: DescribeJobs vs ListJobs, on moto.

    The engine polls only the children it has not seen end: ceil(unfinished / 100)
    DescribeJobs. ListJobs on ``arrayJobId`` filters by one status a call, so telling
    which children ended means listing SUCCEEDED and FAILED, i.e. every ended child,
    page after page (moto returns one page whatever the size; AWS pages at 100).
    """
    batch = client("batch", endpoint)
    unfinished = [f"{array_id}:{i}" for i in range(size - max(1, size // 100), size)]
    counter = OperationCounter(batch)
    for start in range(0, len(unfinished), 100):
        batch.describe_jobs(jobs=unfinished[start : start + 100])
    listed = 0
    for status in ("SUCCEEDED", "FAILED"):
        args: dict[str, Any] = {"arrayJobId": array_id, "jobStatus": status}
        while True:
            page = batch.list_jobs(**args)
            listed += len(page["jobSummaryList"])
            if not page.get("nextToken"):
                break
            args["nextToken"] = page["nextToken"]
    pages_at_100 = 2 + listed // 100
    print(
        f"status of a {size}-child array, {len(unfinished)} unfinished: "
        f"DescribeJobs {counter.calls['DescribeJobs']} calls; "
        f"ListJobs {counter.calls['ListJobs']} calls on moto ({listed} summaries), "
        f"{pages_at_100} at 100 a page -> the engine uses DescribeJobs on child ids"
    )


def report(meter: Meter, tasks: int, rc: int, elapsed: float, array_jobs: str) -> int:
    """Print per-task calls by operation, the submission phase, RSS and the checks."""
    assert meter.counter is not None
    calls = meter.counter.calls
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{tasks} tasks, array-jobs {array_jobs}, workflow exit code {rc}, {elapsed:.1f} s")
    print(f"engine peak RSS {rss_mb:.0f} MB")
    print(f"{'operation':<28}{'calls':>8}{'per task':>10}")
    for op, n in sorted(calls.items()):
        print(f"{op:<28}{n:>8}{n / tasks:>10.3f}")
    per_shard_bound = tasks / SUBMIT_QUOTA
    phase = max(meter.submit_seconds, calls["SubmitJob"] / SUBMIT_QUOTA)
    ratio = per_shard_bound / phase if phase else float("inf")
    print(
        f"submission phase: {meter.submit_seconds:.1f} s in submit_all (job agent's time "
        f"excluded), {calls['SubmitJob']} "
        f"SubmitJobs = {calls['SubmitJob'] / SUBMIT_QUOTA:.1f} s at {SUBMIT_QUOTA:.0f} TPS; "
        f"one SubmitJob a shard at the quota: {per_shard_bound:.0f} s; ratio {ratio:.1f}x"
    )
    waits = meter.moto_seconds
    engine_side = meter.submit_seconds - waits["SubmitJob"] - waits["PutObject"]
    print(
        f"  of which waiting on moto: SubmitJob {waits['SubmitJob']:.1f} s (moto builds every "
        f"child inside the call), script PUTs {waits['PutObject']:.1f} s; the engine's own "
        f"{engine_side:.1f} s; calls at the quota alone: ratio "
        f"{per_shard_bound / (calls['SubmitJob'] / SUBMIT_QUOTA):.0f}x"
    )
    worst = max((d - math.ceil(active / 100) for active, d in meter.cycles), default=0)
    if array_jobs == "never":
        submits = {
            f"SubmitJob 1.00/task ({calls['SubmitJob'] / tasks:.2f})": calls["SubmitJob"] == tasks
        }
        scripts_ok = 0 < meter.script_puts <= len(meter.scripts)
    else:
        arrays = math.ceil(tasks / 10_000)
        submits = {
            f"SubmitJob <= ceil(tasks/10,000) = {arrays} ({calls['SubmitJob']})": calls["SubmitJob"]
            <= arrays,
            f"submission phase >= 50x one SubmitJob a shard at the quota ({ratio:.1f}x)": ratio
            >= 50,
        }
        scripts_ok = meter.script_puts <= 2 * arrays
    checks = {
        "workflow succeeded": rc == 0,
        **submits,
        f"engine peak RSS <= 1 GB ({rss_mb:.0f} MB)": rss_mb <= 1024,
        f"RegisterJobDefinition == 1 ({calls['RegisterJobDefinition']})": calls[
            "RegisterJobDefinition"
        ]
        == 1,
        f"DescribeJobs <= ceil(active/100) per poll cycle ({len(meter.cycles)} cycles, "
        f"max excess {worst})": worst <= 0,
        f"script PUTs <= one a script (two an array) ({meter.script_puts} PUTs, "
        f"{len(meter.scripts)} distinct job URLs)": scripts_ok,
    }
    for name, ok in checks.items():
        print(f"{'OK  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=1000)
    parser.add_argument("--agent", choices=("rc-only", "fetch_and_run"), default="rc-only")
    parser.add_argument("--array-jobs", choices=("auto", "never"), default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="batch-economy-") as tmp:
        return run(args.shards, args.agent, args.array_jobs, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
