"""Soak: small workflows submitted to ``ironside server`` while it is SIGKILLed on a schedule.

Prints submitted/succeeded counts, duplicate and missing task executions, the
number of kills, and the server's RSS after the first 100 workflows and at the
end (target: within 50 MB). Defaults are the issue's: 1,000 workflows over 10
minutes, a SIGKILL + restart every 2 minutes.

    python bench/faults_soak.py [--workflows 1000] [--seconds 600] [--kill-every 120]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.faults.soak import run_soak  # noqa: E402


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--kill-every", type=float, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faults-soak-") as tmp:
        f = run_soak(Path(tmp), args.workflows, args.seconds, args.kill_every)
    growth = f.rss_end_mb - f.rss_after_first_100_mb
    print(f"workflows submitted {f.submitted}, succeeded {f.succeeded}, statuses {f.statuses}")
    print(f"kills {f.kills}, wall {f.wall:.0f} s")
    print(f"task executions: duplicated {f.duplicates}, missing {f.missing}")
    print(
        f"server RSS after the first 100: {f.rss_after_first_100_mb:.1f} MB, at the end:"
        f" {f.rss_end_mb:.1f} MB (growth {growth:+.1f} MB, target <= 50)"
    )
    good = (
        f.succeeded == f.submitted == args.workflows
        and f.duplicates == 0
        and f.missing == 0
        and growth <= 50
    )
    print("OK" if good else "FAIL")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
