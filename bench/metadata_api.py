# ruff: noqa: E501 - printed report lines
"""Metadata endpoint benchmark: ``GET /metadata`` of a finished 10,000-shard workflow.

Usage: ``python bench/metadata_api.py [--shards 10000] [--requests 10] [--synthetic] [--no-cache]``

Starts ``ironside server`` (a subprocess on a free loopback port), runs an
N-shard scatter through it to Succeeded (``--synthetic``: writes the same
number of finished call rows straight into the store instead), then requests
the full metadata ``--requests`` times. Prints p50/max latency, the first
(uncached) request, the response size, and the server's RSS before and at peak while serving (the issue's
limits: p50 <= 1 s, RSS growth <= 100 MB), with the ratio to each limit. For
reference it also times ``/status`` and the slim metadata cromshell asks for.
``--no-cache`` turns the server's metadata response cache off, so that every
request builds the document afresh.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.server_proc import ServerProcess, wait_status, write_config  # noqa: E402

WDL_SOURCE = """version 1.0
task double {
  input { Int x }
  command <<< echo $((~{x}*2)) >>>
  output { Int y = read_int(stdout()) }
}
workflow scatter_bench {
  input { Int n }
  scatter (x in range(n)) { call double { input: x = x } }
  output { Int total = length(double.y) }
}
"""
P50_LIMIT_S = 1.0
RSS_LIMIT_MB = 100.0


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def synthetic(root: Path, shards: int) -> str:
    """Store a finished N-shard workflow the way the engine records one; return its id."""
    import uuid

    from ironside.store import open_store

    store = open_store(f"sqlite:///{root / 'ironside.sqlite'}")
    wf_id = str(uuid.uuid4())
    now = time.time()
    wf_root = str(root / "executions" / "scatter_bench" / wf_id)
    store.create_workflow(
        {
            "id": wf_id, "parent_id": None, "parent_call": None, "parent_shard": None,
            "name": "scatter_bench", "status": "Succeeded", "workflow_url": "", "source": WDL_SOURCE,
            "imports_zip": None, "inputs": json.dumps({"scatter_bench.n": shards}), "options": "{}",
            "backend": "Local", "root": wf_root, "outputs": json.dumps({"scatter_bench.total": shards}),
            "failures": None, "submitted": now - 600, "started": now - 590, "ended": now,
        }
    )  # fmt: skip
    for i in range(shards):
        call_root = f"{wf_root}/call-double/shard-{i}"
        store.add_call(
            {
                "workflow_id": wf_id, "fqn": "scatter_bench.double", "shard": i, "attempt": 1,
                "status": "Done", "backend": "Local", "call_root": call_root,
                "job_id": f"{call_root}/execution", "return_code": 0,
                "inputs": json.dumps({"x": i}), "outputs": json.dumps({"y": 2 * i}),
                "runtime": json.dumps({"docker": "ubuntu:22.04", "cpu": 1, "memory": "2 GB"}),
                "command": f"echo $(({i}*2))", "failures": None, "sub_workflow_id": None,
                "cached": False, "started": now - 590 + i * 0.05, "ended": now - 589 + i * 0.05,
            }
        )  # fmt: skip
    store.close()
    return wf_id


def real(server: ServerProcess, shards: int) -> str:
    """Run the scatter through the server; return the workflow id once it has Succeeded."""
    files = {
        "workflowSource": ("w.wdl", WDL_SOURCE.encode()),
        "workflowInputs": ("i.json", json.dumps({"scatter_bench.n": shards}).encode()),
    }
    with httpx.Client(base_url=server.url, timeout=120) as c:
        wf_id = str(c.post("/api/workflows/v1", files=files).json()["id"])
        status = wait_status(c, wf_id, {"Succeeded", "Failed", "Aborted"}, 3600)
    if status != "Succeeded":
        raise SystemExit(f"workflow {wf_id} ended {status}")
    return wf_id


def timed_gets(
    url: str, path: str, n: int, params: httpx.QueryParams | None = None
) -> tuple[list[float], int]:
    """Latencies of ``n`` GETs and the size of the last body."""
    times, size = [], 0
    with httpx.Client(base_url=url, timeout=600) as c:
        for _ in range(n):
            t0 = time.perf_counter()
            r = c.get(path, params=params)
            times.append(time.perf_counter() - t0)
            r.raise_for_status()
            size = len(r.content)
    return times, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=10)
    ap.add_argument("--synthetic", action="store_true", help="store finished rows, do not run")
    ap.add_argument("--no-cache", action="store_true", help="server's metadata cache off")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ironside-bench-md-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        wf_id = synthetic(root, args.shards) if args.synthetic else ""
        extra = "ironside.server.metadata-cache-size = 0" if args.no_cache else ""
        server = ServerProcess(root, write_config(root, extra))
        server.start()
        try:
            if not wf_id:
                wf_id = real(server, args.shards)
            made = time.perf_counter() - t0
            assert server.proc is not None
            pid = server.proc.pid
            time.sleep(1.0)
            before = rss_mb(pid)
            peak = [before]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], rss_mb(pid))
                    time.sleep(0.01)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            path = f"/api/workflows/v1/{wf_id}/metadata"
            times, size = timed_gets(server.url, path, args.requests)
            done.set()
            sampler.join()
            slim = httpx.QueryParams({"includeKey": ["id", "executionStatus", "status"]})
            slim_times, slim_size = timed_gets(server.url, path, args.requests, slim)
            status_times, _ = timed_gets(
                server.url, f"/api/workflows/v1/{wf_id}/status", args.requests
            )
        finally:
            server.stop()
    p50 = statistics.median(times)
    growth = peak[0] - before
    print(
        f"workflow: {args.shards} shards ({'synthetic rows' if args.synthetic else 'run'}), ready in {made:.1f} s"
    )
    print(
        f"GET /metadata   p50 {p50:.3f} s  max {max(times):.3f} s  body {size / 1e6:.1f} MB  ({args.requests} requests)"
    )
    cached = "--no-cache: each request builds afresh" if args.no_cache else "built, then cached"
    print(f"  first request ({cached}) {times[0]:.3f} s")
    print(
        f"  limit p50 <= {P50_LIMIT_S:.1f} s: ratio {p50 / P50_LIMIT_S:.2f}  {'OK' if p50 <= P50_LIMIT_S else 'OVER'}"
    )
    print(f"server RSS      before {before:.0f} MB  peak {peak[0]:.0f} MB  growth {growth:.0f} MB")
    print(
        f"  limit growth <= {RSS_LIMIT_MB:.0f} MB: ratio {growth / RSS_LIMIT_MB:.2f}  {'OK' if growth <= RSS_LIMIT_MB else 'OVER'}"
    )
    print(
        f"reference: slim metadata (cromshell) p50 {statistics.median(slim_times):.3f} s body {slim_size / 1e6:.1f} MB; /status p50 {statistics.median(status_times) * 1000:.1f} ms"
    )
    return 0 if p50 <= P50_LIMIT_S and growth <= RSS_LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
