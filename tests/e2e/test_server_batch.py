"""``ironside server`` configured with ``backend.default = "AWSBatch"`` runs on Batch.

A real uvicorn server on 127.0.0.1 over the real engine adapter; AWS is a moto
server and the job agent of ``batch_harness`` (hooked on the engine's own Batch
client through ``wiring.make_clients``, as in ``test_batch_workflow``).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ironside.backends.aws_batch import wiring
from ironside.server.app import create_app
from ironside.server.engine_adapter import build_engine_port
from ironside.server.settings import ServerSettings
from tests.runtime.server.live import serve

from .batch_harness import (
    NEEDS_AGENT,
    ROOT_BUCKET,
    JobAgent,
    OperationCounter,
    aws_env,
    client,
    config_text,
    make_queue,
    start_moto,
)

pytestmark = [
    pytest.mark.slow,
    *NEEDS_AGENT,
]

WDL = """version 1.0
task shout {
  input { String word }
  command <<< echo ~{word} | tr a-z A-Z > out.txt >>>
  output { File out = "out.txt" }
  runtime { docker: "ubuntu:24.04"  cpu: 1  memory: "512 MB" }
}
workflow shout_wf {
  input { String word }
  call shout { input: word = word }
  output { File out = shout.out }
}
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The moto server (moto's state is per process: one per module, queues named per test)."""
    server, url = start_moto()
    yield url
    # moto's backends outlive the server in this process: leave no job definitions behind
    # for a later module that counts its RegisterJobDefinition calls
    req = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    server.stop()


@pytest.fixture
def batch_server(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """A queue, the agent on the engine's Batch client, a live ironside server."""
    for key, value in aws_env(endpoint).items():
        monkeypatch.setenv(key, value)
    queue = make_queue(endpoint, f"q{abs(hash(str(tmp_path))) % 10**8}")
    config = tmp_path / "ironside.conf"
    config.write_text(config_text(queue, str(tmp_path / "ironside.sqlite")))
    agent = JobAgent(endpoint, tmp_path / "host")
    counters: list[OperationCounter] = []
    real = wiring.make_clients

    def make_clients(settings: Any, **kwargs: Any) -> tuple[Any, Any]:
        batch, s3c = real(settings, **kwargs)
        agent.attach(batch)
        counters.append(OperationCounter(batch, s3c))
        return batch, s3c

    monkeypatch.setattr(wiring, "make_clients", make_clients)
    port = build_engine_port(str(config), max_workflows=1)
    app = create_app(ServerSettings(), port)
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            yield {"http": http, "agent": agent, "counters": counters, "s3": client("s3", endpoint)}
    finally:
        port.stop()


def _submit(http: httpx.Client, options: dict[str, Any] | None = None) -> httpx.Response:
    files = {
        "workflowSource": ("w.wdl", WDL.encode()),
        "workflowInputs": ("i.json", json.dumps({"shout_wf.word": "hi"}).encode()),
    }
    if options is not None:
        files["workflowOptions"] = ("o.json", json.dumps(options).encode())
    return http.post("/api/workflows/v1", files=files)


def _wait(http: httpx.Client, wf: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = str(http.get(f"/api/workflows/v1/{wf}/status").json()["status"])
        if status in ("Succeeded", "Failed", "Aborted"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"{wf} did not finish")


def _count(server: dict[str, Any], op: str) -> int:
    return sum(c.calls[op] for c in server["counters"])


def test_server_runs_workflow_on_batch(batch_server: dict[str, Any]) -> None:
    """The workflow is a Batch job (SubmitJob through the agent); its output lands in S3."""
    http = batch_server["http"]
    answer = _submit(http)
    assert answer.status_code == 201, answer.text
    wf = answer.json()["id"]
    assert _wait(http, wf) == "Succeeded", http.get(f"/api/workflows/v1/{wf}/metadata").text
    out = http.get(f"/api/workflows/v1/{wf}/outputs").json()["outputs"]["shout_wf.out"]
    assert out.startswith(f"s3://{ROOT_BUCKET}/cromwell-execution/shout_wf/{wf}/")
    bucket, _, key = out[len("s3://") :].partition("/")
    assert batch_server["s3"].get_object(Bucket=bucket, Key=key)["Body"].read() == b"HI\n"
    assert _count(batch_server, "SubmitJob") == 1
    assert [r.returncode for r in batch_server["agent"].runs] == [0]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"aws_batch_job_role_arn": "arn:aws:iam::12:role/x"}, "aws_batch_job_role_arn"),
        ({"aws_batch_script_bucket_prefix": "team/../up"}, "aws_batch_script_bucket_prefix"),
    ],
)
def test_bad_batch_options_are_refused_at_submission(
    batch_server: dict[str, Any], options: dict[str, Any], reason: str
) -> None:
    """A bad job role or script prefix is a 400 naming the option; nothing stored or submitted."""
    http = batch_server["http"]
    answer = _submit(http, options)
    assert answer.status_code == 400, answer.text
    assert reason in answer.text
    assert http.get("/api/workflows/v1/query").json()["totalResultsCount"] == 0
    assert _count(batch_server, "SubmitJob") == 0
