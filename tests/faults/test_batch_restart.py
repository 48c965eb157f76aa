"""``ironside server`` on AWS Batch (moto) SIGKILLed after 85 SubmitJobs, then restarted.

The restarted server adopts the jobs already submitted (found by their unique
names) and submits the rest: every call has exactly one Batch job. The jobs are
played by a thread of the test that writes each job's ``rc`` to S3 (moto runs
them to SUCCEEDED on its own).
"""

from __future__ import annotations

import signal
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from moto.batch.models import batch_backends

from tests.e2e.batch_harness import REGION, aws_env, client, config_text, make_queue, start_moto
from tests.e2e.server_proc import ServerProcess, wait_status

pytestmark = pytest.mark.slow

SHARDS = 200
WDL = f"""version 1.0
task shard {{
  input {{ Int i }}
  command <<< echo ~{{i}} >>>
  output {{ Int n = i }}
  runtime {{ docker: "ubuntu:24.04"  cpu: 1  memory: "512 MB" }}
}}
workflow many {{
  scatter (i in range({SHARDS})) {{ call shard {{ input: i = i }} }}
  output {{ Array[Int] ns = shard.n }}
}}
"""


def _jobs() -> dict[str, Any]:
    """Every job moto's Batch holds in this process."""
    jobs: dict[str, Any] = {}
    for account in batch_backends.values():
        jobs.update(getattr(account[REGION], "_jobs", {}))
    return jobs


class _RcWriter(threading.Thread):
    """Writes ``rc`` 0 for each job where its task script would."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.batch, self.s3 = client("batch", endpoint), client("s3", endpoint)
        self.done: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            new = [j for j in list(_jobs()) if j not in self.done]
            for i in range(0, len(new), 100):
                for job in self.batch.describe_jobs(jobs=new[i : i + 100])["jobs"]:
                    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
                    root = env["IRONSIDE_CALL_ROOT"][len("s3://") :]
                    bucket, _, prefix = root.partition("/")
                    self.s3.put_object(Bucket=bucket, Key=f"{prefix}/execution/rc", Body=b"0\n")
                    self.done.add(job["jobId"])
            self.stop.wait(0.2)


@pytest.fixture
def endpoint() -> Iterator[str]:
    """A moto server, its (process-wide) state reset: the test counts every job there is."""
    server, url = start_moto()
    req = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    yield url
    server.stop()


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
    writer = _RcWriter(endpoint)
    writer.start()
    env = {**aws_env(endpoint), "IRONSIDE_FAILPOINT": "submitted:85"}
    server = ServerProcess(tmp_path, conf, env)
    server.start()
    files = {"workflowSource": ("many.wdl", WDL.encode())}
    try:
        wf_id = httpx.post(server.url + "/api/workflows/v1", files=files, timeout=60).json()["id"]
        assert server.proc is not None
        server.proc.wait(120)
        assert server.proc.returncode == -signal.SIGKILL
        assert len(_jobs()) == 85
        server.env.pop("IRONSIDE_FAILPOINT")
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert wait_status(http, wf_id, {"Succeeded", "Failed", "Aborted"}, 300) == "Succeeded"
            outputs = http.get(f"/api/workflows/v1/{wf_id}/outputs").json()["outputs"]
    finally:
        server.stop()
        writer.stop.set()
        writer.join(10)
    assert outputs["many.ns"] == list(range(SHARDS))
    names = Counter(job.job_name for job in _jobs().values())
    assert len(names) == SHARDS and set(names.values()) == {1}, "a call was submitted twice"
