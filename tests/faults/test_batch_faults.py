"""Throttling and bad days at S3, through the real engine on moto: nothing lost, nothing run
twice, outputs correct.

The engine is assembled by ``build_service`` with the engine's own client configs;
faults are injected into its Batch client (``before-call``: the call never reaches
Batch) and its S3 client (``before-send``: botocore's retries see a 500). The job
agent writes each job's ``rc`` as it is submitted (``rc-only``), so the runs measure
the engine and the faults, not the tasks. Seeds are fixed: a run is reproducible.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.batch_harness import start_moto

from .faults import Faults, S3Faults, engine_clients, run_scatter

pytestmark = pytest.mark.slow

#: SubmitJob rate (start, floor, ceiling): a floor a busy account would allow, so that a
#: 30% throttle rate (which does not depend on our rate here) cannot pin it at 0.1/s.
RATES = "submit-rate = 40\nsubmit-rate-min = 20\nsubmit-rate-max = 80"
POLL = 1.0  # the engine's poll interval (its default)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The moto server on loopback."""
    server, url = start_moto()
    yield url
    server.stop()


def test_submit_30_and_describe_20_percent_throttled(endpoint: str, tmp_path: Path) -> None:
    batch, s3 = engine_clients(endpoint)
    faults = Faults(random.Random(14), share={"SubmitJob": 0.3, "DescribeJobs": 0.2})
    faults.attach(batch)
    run = run_scatter(
        endpoint, tmp_path, 200, batch=batch, s3=s3, extra_config=RATES, poll_interval=POLL
    )
    assert run.status == "Succeeded"
    assert run.outputs == {"wf.ns": list(range(200))}
    assert faults.succeeded("SubmitJob") == 200
    assert len(set(run.names)) == 200 and len(run.agent.job_ids) == 200  # none twice
    assert faults.refused["SubmitJob"] > 30 and faults.refused["DescribeJobs"] > 0
    last_submit = max(faults.calls["SubmitJob"])
    polls_meanwhile = sum(t < last_submit for t in faults.calls["DescribeJobs"])
    print(
        f"SubmitJob {faults.succeeded('SubmitJob')}/{len(faults.calls['SubmitJob'])}, "
        f"DescribeJobs max gap {faults.max_gap('DescribeJobs'):.2f} s, "
        f"{polls_meanwhile} before the last SubmitJob"
    )
    # polling went on between throttled submissions (counted, not timed: a loaded
    # machine stretches the gaps, not their order)
    assert polls_meanwhile >= 10


def test_everything_throttled_for_a_while(
    endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The measured outage: SubmitJob refused for 15 s, DescribeJobs for 20 s (from the start)."""
    batch, s3 = engine_clients(endpoint)
    faults = Faults(random.Random(15), window={"SubmitJob": 15.0, "DescribeJobs": 20.0})
    faults.attach(batch)
    with caplog.at_level(logging.INFO, logger="ironside"):
        run = run_scatter(
            endpoint, tmp_path, 20, batch=batch, s3=s3, extra_config=RATES, poll_interval=POLL
        )
    assert run.status == "Succeeded"
    assert run.outputs == {"wf.ns": list(range(20))}
    assert faults.succeeded("SubmitJob") == 20 and len(set(run.names)) == 20
    assert faults.refused["SubmitJob"] > 1 and faults.refused["DescribeJobs"] > 1
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text
    started = [r for r in caplog.records if r.getMessage().startswith("AWS Batch SubmitJob thr")]
    assert len(started) == 1  # one line when throttling starts, not one per call
    print(
        f"SubmitJob {faults.succeeded('SubmitJob')}/{len(faults.calls['SubmitJob'])}, "
        f"DescribeJobs {faults.succeeded('DescribeJobs')}/{len(faults.calls['DescribeJobs'])}"
    )


def test_job_definition_calls_throttled_for_a_while(
    endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """DescribeJobDefinitions and RegisterJobDefinition refused for 10 s: only a delay."""
    batch, s3 = engine_clients(endpoint)
    window = {"DescribeJobDefinitions": 10.0, "RegisterJobDefinition": 10.0}
    faults = Faults(random.Random(16), window=window)
    faults.attach(batch)
    with caplog.at_level(logging.INFO, logger="ironside"):
        run = run_scatter(endpoint, tmp_path, 20, batch=batch, s3=s3, poll_interval=POLL)
    assert run.status == "Succeeded"
    assert run.outputs == {"wf.ns": list(range(20))}
    assert faults.refused["DescribeJobDefinitions"] > 1
    assert faults.succeeded("RegisterJobDefinition") <= 1 and len(set(run.names)) == 20
    assert "Traceback" not in caplog.text
    print(f"definition calls refused: {faults.refused}")


def test_s3_500s_on_a_tenth_of_the_engine_s_calls(endpoint: str, tmp_path: Path) -> None:
    batch, s3 = engine_clients(endpoint)
    faults = S3Faults(random.Random(10), share=0.1)
    faults.attach(s3)
    run = run_scatter(endpoint, tmp_path, 30, batch=batch, s3=s3, poll_interval=POLL)
    assert run.status == "Succeeded"
    assert run.outputs == {"wf.ns": list(range(30))}
    assert len(run.names) == 30 and len(set(run.names)) == 30
    assert sum(faults.failed.values()) >= 3, faults.failed
    print(f"S3 requests {faults.sent}, answered 500: {faults.failed}")
