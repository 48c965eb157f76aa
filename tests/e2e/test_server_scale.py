"""One engine for every workflow, on AWS Batch (moto): 40 workflows x 25 shards at once.

With the server's default settings every workflow runs at once; the jobs of all
of them share one status poller (each poll cycle at most ceil(active / 100)
DescribeJobs calls), one job-definition cache (one RegisterJobDefinition) and
one SubmitJob per task. Every output is checked.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .batch_harness import aws_env, make_queue, start_moto
from .scale_scenario import run_scale

pytestmark = pytest.mark.slow


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server, url = start_moto()
    for key, value in aws_env(url).items():
        monkeypatch.setenv(key, value)
    yield url
    req = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    server.stop()


def test_forty_workflows_share_one_poller_one_definition_cache(
    endpoint: str, tmp_path: Path
) -> None:
    queue = make_queue(endpoint, "scale")
    figures = run_scale(endpoint, queue, tmp_path, workflows=40, shards=25, hold=20.0)
    assert set(figures.statuses.values()) == {"Succeeded"}, figures.statuses
    assert figures.wrong_outputs == 0
    assert figures.calls["SubmitJob"] == 1000
    assert figures.calls["RegisterJobDefinition"] == 1
    assert figures.worst_cycle_excess <= 0, figures.cycles
    assert max(figures.ids_per_describe) > 25  # ids of several workflows in one call
    assert figures.peak_running == 40
