"""A moto server with the fix its Batch model needs for array jobs (seen in moto 5.2.5).

moto describes a job's environment by appending ``AWS_BATCH_JOB_ID`` (and the job
definition's variables) to the container overrides' own list, and every child of an
array shares that list: each description of any child adds an entry to all of them.
A DescribeJobs of 100 children of a 2,500-child array returned ~12 MB, and the
engine's peak RSS grew with the square of the array's size (397 MB at 2,500
shards, 154 MB with this fix). The fix describes from a copy of the list.

    python -m tests.e2e.moto_fixes -H 127.0.0.1 -p PORT   # moto.server's arguments
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import moto.batch.models as batch_models
from moto.server import main as moto_server_main


def apply() -> None:
    """Make moto's Batch jobs describe their environment without changing it."""
    job = batch_models.Job
    if getattr(job, "_ironside_env_fixed", False):
        return
    real = job._get_container_property

    def container_property(self: Any, p: str, default: Any) -> Any:
        if p != "environment":
            return real(self, p, default)
        shared = self.container_overrides
        self.container_overrides = copy.deepcopy(shared)
        try:
            return real(self, p, copy.deepcopy(default))
        finally:
            self.container_overrides = shared

    job._get_container_property = container_property  # type: ignore[method-assign]
    job._ironside_env_fixed = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    apply()
    moto_server_main(sys.argv[1:])
