"""``ironside server`` on AWS Batch (moto) SIGKILLed after 85 SubmitJobs, then restarted.

The restarted server adopts the jobs already submitted (found by their unique
names) and submits the rest: every call has exactly one Batch job. Each job's
``rc`` is written to S3 as moto's Batch takes the job (moto runs it to SUCCEEDED
on its own), so that no job can end before its ``rc`` is there.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from moto.batch_simple.models import BatchSimpleBackend

from tests.e2e.batch_harness import aws_env, client, config_text, make_queue
from tests.e2e.server_proc import ServerProcess, wait_status

from .batch_restart_world import SHARDS, WDL, fresh_moto, moto_jobs  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def rc_written_at_submission(endpoint: str) -> Iterator[None]:
    """Each job's ``rc`` 0 is in S3 before moto's Batch has the job (so before it can end):
    where its task script would have written it before the job SUCCEEDED."""
    s3 = client("s3", endpoint)
    real = BatchSimpleBackend.submit_job  # the backend of a moto server without Docker
    signature = inspect.signature(real)

    def submit_job(self: BatchSimpleBackend, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        overrides = bound.arguments.get("container_overrides") or {}
        env = {e["name"]: e["value"] for e in overrides.get("environment", [])}
        bucket, _, prefix = env["IRONSIDE_CALL_ROOT"][len("s3://") :].partition("/")
        s3.put_object(Bucket=bucket, Key=f"{prefix}/execution/rc", Body=b"0\n")
        return real(self, *args, **kwargs)

    BatchSimpleBackend.submit_job = submit_job  # type: ignore[method-assign]
    try:
        yield
    finally:
        BatchSimpleBackend.submit_job = real  # type: ignore[method-assign]


def test_server_killed_after_85_submits_adopts_them_on_restart(
    endpoint: str, tmp_path: Path
) -> None:
    queue = make_queue(endpoint, "restart")
    conf = tmp_path / "ironside.conf"
    text = config_text(
        queue, str(tmp_path / "ironside.sqlite"), job_limit=SHARDS, array_jobs="never"
    )
    conf.write_text(
        text.replace("numSubmitAttempts = 6", "numSubmitAttempts = 6\n submit-rate = 1000")
    )
    env = {**aws_env(endpoint), "IRONSIDE_FAILPOINT": "submitted:85"}
    server = ServerProcess(tmp_path, conf, env)
    files = {"workflowSource": ("many.wdl", WDL.encode())}
    with rc_written_at_submission(endpoint):
        server.start()
        try:
            answer = httpx.post(server.url + "/api/workflows/v1", files=files, timeout=60)
            wf_id = answer.json()["id"]
            assert server.proc is not None
            server.proc.wait(120)
            assert server.proc.returncode == -signal.SIGKILL
            assert len(moto_jobs()) == 85
            server.env.pop("IRONSIDE_FAILPOINT")
            server.start()
            with httpx.Client(base_url=server.url, timeout=60) as http:
                status = wait_status(http, wf_id, {"Succeeded", "Failed", "Aborted"}, 300)
                assert status == "Succeeded", server.log()[-3000:]
                outputs = http.get(f"/api/workflows/v1/{wf_id}/outputs").json()["outputs"]
        finally:
            server.stop()
    assert outputs["many.ns"] == list(range(SHARDS))
    names = Counter(job.job_name for job in moto_jobs().values())
    assert len(names) == SHARDS and set(names.values()) == {1}, "a call was submitted twice"
