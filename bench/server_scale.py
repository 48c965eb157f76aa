"""One engine for many workflows: 40 workflows x 25 shards POSTed at once, AWS Batch on moto.

Prints wall time, calls per operation, job ids per DescribeJobs, DescribeJobs per
poll cycle, the peak of workflows Running at once, and the ratio of the wall
time to one workflow of the same number of shards run alone in this process
(target <= 1.3). Jobs are kept RUNNING for ``--hold`` seconds after SubmitJob.

    python bench/server_scale.py [--workflows 40] [--shards 25] [--hold 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.batch_harness import aws_env, make_queue, start_moto  # noqa: E402
from tests.e2e.scale_scenario import ScaleFigures, run_scale  # noqa: E402


def scenario(workdir: Path, workflows: int, shards: int, hold: float) -> ScaleFigures:
    """One run on a fresh moto server."""
    server, endpoint = start_moto()
    os.environ.update(aws_env(endpoint))
    try:
        queue = make_queue(endpoint, f"scale{workflows}")
        return run_scale(endpoint, queue, workdir, workflows, shards, hold)
    finally:
        req = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=10).close()
        server.stop()


def show(name: str, f: ScaleFigures) -> None:
    """Print one scenario's figures."""
    ok = sum(1 for s in f.statuses.values() if s == "Succeeded")
    print(f"\n{name}: {f.tasks} tasks, {ok}/{len(f.statuses)} Succeeded, {f.wall:.1f} s wall")
    print(f"  wrong outputs {f.wrong_outputs}, peak workflows Running {f.peak_running}")
    ids = f.ids_per_describe or [0]
    print(
        f"  job ids per DescribeJobs: mean {statistics.mean(ids):.1f}, max {max(ids)};"
        f" poll cycles {len(f.cycles)}, worst DescribeJobs excess over ceil(active/100)"
        f" {f.worst_cycle_excess}"
    )
    for op, n in sorted(f.calls.items()):
        print(f"  {op:<26}{n:>7}{n / f.tasks:>9.3f}/task")


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=40)
    parser.add_argument("--shards", type=int, default=25)
    parser.add_argument("--hold", type=float, default=20.0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("ironside").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="server-scale-") as tmp:
        many = scenario(Path(tmp) / "many", args.workflows, args.shards, args.hold)
        alone = scenario(Path(tmp) / "alone", 1, args.workflows * args.shards, args.hold)
    show(f"{args.workflows} workflows x {args.shards} shards", many)
    show(f"reference: 1 workflow x {args.workflows * args.shards} shards", alone)
    ratio = many.wall / alone.wall
    print(f"\nwall ratio many/alone: {ratio:.2f} (target <= 1.3)")
    good = (
        ratio <= 1.3
        and many.wrong_outputs == 0
        and set(many.statuses.values()) == {"Succeeded"}
        and many.peak_running == args.workflows
        and many.worst_cycle_excess <= 0
    )
    print("OK" if good else "FAIL")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
