"""``ironside server`` on AWS Batch (moto) SIGKILLed right after an array job's SubmitJob.

The kill comes after the array's SubmitJob returned and before any child's job id
was committed or any child finished (the children's ``rc`` is written only after
the kill). The restarted server finds every shard's child through the array's
manifest and the array by its name: 0 resubmitted, every shard one child.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.batch_harness import array_call_roots, aws_env, client, config_text, make_queue
from tests.e2e.server_proc import ServerProcess, wait_status

from .batch_restart_world import SHARDS, WDL, fresh_moto, moto_jobs  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def _write_children_rc(endpoint: str) -> int:
    """Write ``rc`` 0 where each array child's script would (call roots from the manifest)."""
    batch, s3 = client("batch", endpoint), client("s3", endpoint)
    arrays = [job_id for job_id in moto_jobs() if ":" not in job_id]
    written = 0
    for job in batch.describe_jobs(jobs=arrays)["jobs"]:
        env = {e["name"]: e["value"] for e in job["container"]["environment"]}
        for call_root in array_call_roots(s3, env["BATCH_FILE_S3_URL"]):
            root_bucket, _, root = call_root[len("s3://") :].partition("/")
            s3.put_object(Bucket=root_bucket, Key=f"{root}/execution/rc", Body=b"0\n")
            written += 1
    return written


def test_server_killed_after_the_array_submit_adopts_it_on_restart(
    endpoint: str, tmp_path: Path
) -> None:
    queue = make_queue(endpoint, "array-restart")
    conf = tmp_path / "ironside.conf"
    text = config_text(queue, str(tmp_path / "ironside.sqlite"), job_limit=SHARDS)
    conf.write_text(text)
    env = {**aws_env(endpoint), "IRONSIDE_FAILPOINT": "submitted:1"}
    server = ServerProcess(tmp_path, conf, env)
    server.start()
    files = {"workflowSource": ("many.wdl", WDL.encode())}
    try:
        wf_id = httpx.post(server.url + "/api/workflows/v1", files=files, timeout=60).json()["id"]
        assert server.proc is not None
        server.proc.wait(120)
        assert server.proc.returncode == -signal.SIGKILL
        arrays = [job for job_id, job in moto_jobs().items() if ":" not in job_id]
        assert len(arrays) == 1 and len(moto_jobs()) == 1 + SHARDS  # one array, its children
        assert _write_children_rc(endpoint) == SHARDS
        server.env.pop("IRONSIDE_FAILPOINT")
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert wait_status(http, wf_id, {"Succeeded", "Failed", "Aborted"}, 300) == "Succeeded"
            outputs = http.get(f"/api/workflows/v1/{wf_id}/outputs").json()["outputs"]
            calls = http.get(f"/api/workflows/v1/{wf_id}/metadata").json()["calls"]["many.shard"]
    finally:
        server.stop()
    assert outputs["many.ns"] == list(range(SHARDS))
    assert len(moto_jobs()) == 1 + SHARDS, "a shard was submitted again"
    array_id = arrays[0].job_id
    assert sorted(c["jobId"] for c in calls) == sorted(f"{array_id}:{i}" for i in range(SHARDS))
    assert {c["backendStatus"] for c in calls} == {"SUCCEEDED"}
