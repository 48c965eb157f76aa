"""End to end on loopback: the backend, a moto server, fetch_and_run.sh and the AWS CLI.

moto's Batch without Docker reports a job finished as soon as it is submitted,
so a test agent plays the ECS agent inside the submission: a botocore
``after-call`` hook on the backend's Batch client looks the new job up (command,
environment, mounts) and runs its command — the launch template's
``fetch_and_run.sh``, with the venv's AWS CLI as the host CLI and
``AWS_ENDPOINT_URL`` at the moto server — before the backend can poll it.

The task script is a stand-in written here in the shape ``ironside.tasks``
renders (work in ``<local-disk>/$AWS_BATCH_JOB_ID``, localize, run, write rc,
delocalize rc/stdout/stderr first, then outputs).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ironside.backends.aws_batch import AwsBatchBackend
from ironside.backends.aws_batch.job_definitions import FETCH_AND_RUN
from ironside.backends.aws_batch.runtime_attributes import LOCAL_DISK_PATH
from ironside.backends.base import JobRequest, JobStatus

from .batch_helpers import CallCounter, FakeClock, make_queue
from .conftest import REGION, ROOT_BUCKET, SCRIPT_BUCKET

REPO = Path(__file__).resolve().parents[3]
HOST_FETCH_AND_RUN = REPO / "launch_template" / "host_assets" / "fetch_and_run.sh"
VENV_BIN = Path(sys.executable).parent
DATA_BUCKET = "ironside-data"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HOST_FETCH_AND_RUN.exists(), reason="launch_template has no fetch_and_run.sh"
    ),
    pytest.mark.skipif(not (VENV_BIN / "aws").exists(), reason="no AWS CLI in the venv"),
]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 whose Batch runs no Docker."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    _moto_config(url, {"batch": {"use_docker": False}})
    yield url
    _moto_config(url, {"batch": {"use_docker": True}})
    server.stop()


def _moto_config(url: str, config: dict[str, Any]) -> None:
    body = json.dumps(config).encode()
    req = urllib.request.Request(f"{url}/moto-api/config", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status in (200, 201)


class TestAgent:
    """Runs each submitted job's command on this machine, as the ECS agent would."""

    __test__ = False

    def __init__(self, endpoint: str, scratch: Path) -> None:
        self.endpoint = endpoint
        self.scratch = scratch
        self.batch = boto3.client("batch", endpoint_url=endpoint, **CREDS)
        self.runs: list[subprocess.CompletedProcess[str]] = []

    def attach(self, batch: Any) -> None:
        """Run every job submitted through ``batch`` before SubmitJob returns."""
        batch.meta.events.register("after-call.batch.SubmitJob", self._on_submit)

    def _on_submit(self, parsed: dict[str, Any], **_: Any) -> None:
        job = self.batch.describe_jobs(jobs=[parsed["jobId"]])["jobs"][0]
        definition = self.batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])
        container = definition["jobDefinitions"][0]["containerProperties"]
        mounts = {m["containerPath"]: m["readOnly"] for m in container["mountPoints"]}
        assert container["command"] == [FETCH_AND_RUN]
        assert mounts[FETCH_AND_RUN] is True and mounts[LOCAL_DISK_PATH] is False
        env = {e["name"]: e["value"] for e in job["container"]["environment"]}
        self.runs.append(self._run(env))

    def _run(self, job_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env = {
            **job_env,
            "PATH": f"{VENV_BIN}:/usr/bin:/bin",
            "HOME": str(self.scratch),
            "TMPDIR": str(self.scratch),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "FETCH_AND_RUN_SLEEP_BASE": "0",
            "FETCH_AND_RUN_AWS_CLI": str(self.scratch / "no-host-cli-v2"),
            "LOCAL_DISK": str(self.scratch / "cromwell_root"),  # the bind-mounted local-disk
        }
        return subprocess.run(
            ["bash", str(HOST_FETCH_AND_RUN)],
            env=env,
            cwd=self.scratch,
            capture_output=True,
            text=True,
            timeout=300,
        )


def stand_in_script(call_root: str, input_url: str, command: str) -> str:
    """A task script in the shape ``ironside.tasks`` renders for AWS Batch."""
    q = shlex.quote
    return f"""#!/bin/bash
work="$LOCAL_DISK/$AWS_BATCH_JOB_ID"
mkdir -p "$work/execution" "$work/inputs" && cd "$work" || exit 1
aws s3 cp --only-show-errors {q(input_url)} inputs/input.txt || exit 1
( {command} ) > execution/stdout 2> execution/stderr < /dev/null
rc=$?
echo $rc > execution/rc
for f in rc stdout stderr; do
  aws s3 cp --only-show-errors "execution/$f" {q(call_root)}/execution/$f || exit 1
done
if [ "$rc" = 0 ]; then aws s3 cp --only-show-errors out.txt {q(call_root)}/out.txt || exit 1; fi
cd / && rm -rf "$work"
exit $rc
"""


def test_scatter_runs_through_fetch_and_run(endpoint: str, tmp_path: Path) -> None:
    batch = boto3.client("batch", endpoint_url=endpoint, **CREDS)
    s3 = boto3.client("s3", endpoint_url=endpoint, **CREDS)
    for bucket in (SCRIPT_BUCKET, ROOT_BUCKET, DATA_BUCKET):
        s3.create_bucket(Bucket=bucket)
    queue = make_queue(batch, boto3.client("iam", endpoint_url=endpoint, **CREDS), "e2e")
    config = {
        "root": f"s3://{ROOT_BUCKET}/cromwell-execution",
        "default-runtime-attributes": {"queueArn": queue, "scriptBucketName": SCRIPT_BUCKET},
    }
    clock = FakeClock()
    backend = AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)
    agent = TestAgent(endpoint, tmp_path)
    agent.attach(batch)
    counter = CallCounter(batch)

    commands = ["tr a-z A-Z < inputs/input.txt > out.txt"] * 2 + ["echo boom >&2; exit 3"]
    ids, roots = [], []
    for shard, command in enumerate(commands):
        s3.put_object(
            Bucket=DATA_BUCKET, Key=f"shard{shard}/input.txt", Body=f"hello {shard}\n".encode()
        )
        root = f"{backend.settings.root}/wf/w-1/call-up/shard-{shard}"
        script = stand_in_script(root, f"s3://{DATA_BUCKET}/shard{shard}/input.txt", command)
        request = JobRequest(
            "w-1", "wf.up", shard, 1, root, script, runtime={"docker": "ubuntu:24.04"}
        )
        ids.append(backend.submit(request))
        roots.append(root.split("/", 3)[3])

    assert [run.returncode for run in agent.runs] == [0, 0, 3], [r.stderr for r in agent.runs]
    states = backend.poll(ids)
    assert [(states[i].status, states[i].return_code) for i in ids] == [
        (JobStatus.SUCCEEDED, 0),
        (JobStatus.SUCCEEDED, 0),
        (JobStatus.SUCCEEDED, 3),
    ]
    for shard in (0, 1):  # same input file name, separate directories and outputs
        out = s3.get_object(Bucket=ROOT_BUCKET, Key=f"{roots[shard]}/out.txt")["Body"].read()
        assert out == f"HELLO {shard}\n".encode()
    stderr = s3.get_object(Bucket=ROOT_BUCKET, Key=f"{roots[2]}/execution/stderr")["Body"].read()
    assert stderr == b"boom\n"
    assert counter.calls["SubmitJob"] == 3
    assert counter.calls["RegisterJobDefinition"] == 1
    assert counter.calls["DescribeJobs"] == 1
    assert list((tmp_path / "cromwell_root").iterdir()) == []  # each job cleaned its directory
