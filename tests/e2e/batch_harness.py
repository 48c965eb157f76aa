"""AWS Batch on loopback for end-to-end tests and the API-economy bench.

A ``ThreadedMotoServer`` on 127.0.0.1 whose Batch runs no Docker (a job is
finished as soon as it is submitted), and a ``JobAgent`` that plays the ECS
agent: a botocore ``after-call`` hook on the engine's Batch client runs each new
job's command (the launch template's ``fetch_and_run.sh``, with the job's
environment, ``AWS_BATCH_JOB_ID`` set, the venv's AWS CLI as the host CLI and
``AWS_ENDPOINT_URL`` at the moto server) inside the submission, so the job's
files are in S3 before the engine can see the job finished. An array job's
children run one after another, each with ``AWS_BATCH_JOB_ID=<array id>:<index>``
and ``AWS_BATCH_JOB_ARRAY_INDEX``, as on Batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from ironside.backends.aws_batch import arrays
from tests.runtime.aws_batch.batch_helpers import make_queue as make_batch_queue

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[2]
FETCH_AND_RUN = REPO / "launch_template" / "host_assets" / "fetch_and_run.sh"
VENV_BIN = Path(sys.executable).parent
REGION = "us-east-1"

#: Marks for a test module that needs the job agent: the host script and an AWS CLI to run it.
NEEDS_AGENT = [
    pytest.mark.skipif(not FETCH_AND_RUN.exists(), reason="no launch_template/fetch_and_run.sh"),
    pytest.mark.skipif(not (VENV_BIN / "aws").exists(), reason="no AWS CLI in the venv"),
]
SCRIPT_BUCKET = "ironside-scripts"
ROOT_BUCKET = "ironside-root"
DATA_BUCKET = "ironside-data"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
FACTORY = "cromwell.backend.impl.aws.AwsBatchBackendLifecycleActorFactory"


def start_moto() -> tuple[ThreadedMotoServer, str]:
    """A moto server on 127.0.0.1 (free port) with Docker-less Batch; (server, endpoint).

    moto is imported here, not by the module: the API-economy bench runs moto in a
    process of its own, and moto's Batch model alone is 100 MB of the engine's RSS.
    """
    from moto.server import ThreadedMotoServer

    from tests.e2e import moto_fixes

    moto_fixes.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    body = json.dumps({"batch": {"use_docker": False}}).encode()
    req = urllib.request.Request(f"{url}/moto-api/config", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status in (200, 201)
    return server, url


def client(service: str, endpoint: str) -> Any:
    """A boto3 client of the moto server."""
    return boto3.client(service, endpoint_url=endpoint, **CREDS)  # type: ignore[call-overload]


def make_queue(endpoint: str, name: str = "default") -> str:
    """Buckets, an unmanaged compute environment and a job queue; the queue's ARN."""
    s3 = client("s3", endpoint)
    for bucket in (SCRIPT_BUCKET, ROOT_BUCKET, DATA_BUCKET):
        s3.create_bucket(Bucket=bucket)
    return make_batch_queue(client("batch", endpoint), client("iam", endpoint), name)


def config_text(
    queue_arn: str, database: str, job_limit: int = 20, array_jobs: str | None = None
) -> str:
    """An ``ironside run`` config: AWS Batch by Cromwell's keys, SQLite state.

    ``array_jobs``: the ``array-jobs`` key's value (None: the engine's default, auto).
    """
    arrays = "" if array_jobs is None else f'array-jobs = "{array_jobs}"'
    return f"""
backend {{
  default = "AWSBatch"
  providers {{
    AWSBatch {{
      actor-factory = "{FACTORY}"
      config {{
        root = "s3://{ROOT_BUCKET}/cromwell-execution"
        concurrent-job-limit = {job_limit}
        numSubmitAttempts = 6
        {arrays}
        default-runtime-attributes {{
          queueArn = "{queue_arn}"
          scriptBucketName = "{SCRIPT_BUCKET}"
        }}
      }}
    }}
  }}
}}
database {{ url = "sqlite:///{database}" }}
docker.hash-lookup.enabled = false  # tests never ask a registry on the internet
"""


def aws_env(endpoint: str) -> dict[str, str]:
    """Environment variables pointing every AWS SDK and CLI at the moto server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def array_call_roots(s3: Any, packed_url: str) -> list[str]:
    """The call root at each index of an array (from the engine's manifest beside its scripts)."""
    bucket, _, key = packed_url[len("s3://") :].partition("/")
    manifest = f"{key.rpartition('/')[0]}/{arrays.MANIFEST}"
    body = s3.get_object(Bucket=bucket, Key=manifest)["Body"].read()
    return [member["callRoot"] for member in json.loads(body)["members"]]


class JobAgent:
    """Runs each submitted job's command on this machine, as the ECS agent would.

    ``mode="fetch_and_run"`` runs the real command; ``mode="rc-only"`` (the bench's
    1,000-job runs) only writes ``rc`` 0 where the task script would, without a
    process per job.
    """

    def __init__(self, endpoint: str, scratch: Path, mode: str = "fetch_and_run") -> None:
        self.endpoint = endpoint
        self.scratch = scratch
        self.mode = mode
        self.batch = client("batch", endpoint)
        self.s3 = client("s3", endpoint)
        self.runs: list[subprocess.CompletedProcess[str]] = []
        self.job_ids: list[str] = []  # single jobs' and array children's, in run order
        self.arrays: dict[str, int] = {}  # array job id -> size
        self.seconds = 0.0  # time spent playing jobs (inside the engine's SubmitJob calls)
        #: called with each job id before it runs; answers False: the job does not run
        self.before_run: Callable[[str], bool | None] | None = None
        (scratch / "cromwell_root").mkdir(parents=True, exist_ok=True)

    @property
    def local_disk(self) -> Path:
        """The host's scratch standing in for ``/cromwell_root``."""
        return self.scratch / "cromwell_root"

    def attach(self, batch: Any) -> None:
        """Run every job submitted through ``batch`` before SubmitJob returns."""
        batch.meta.events.register("after-call.batch.SubmitJob", self._on_submit)

    def _on_submit(self, parsed: dict[str, Any], **_: Any) -> None:
        started = time.monotonic()
        try:
            self._run_submitted(parsed)
        finally:
            self.seconds += time.monotonic() - started

    def _run_submitted(self, parsed: dict[str, Any]) -> None:
        if "jobId" not in parsed:
            return  # a failed call (e.g. an injected throttling error)
        job_id = parsed["jobId"]
        job = self.batch.describe_jobs(jobs=[job_id])["jobs"][0]
        env = {e["name"]: e["value"] for e in job["container"]["environment"]}
        size = job.get("arrayProperties", {}).get("size")
        if size is None:
            self._play(job_id, env, env["IRONSIDE_CALL_ROOT"])
            return
        self.arrays[job_id] = size
        roots = array_call_roots(self.s3, env["BATCH_FILE_S3_URL"])
        children = [
            (f"{job_id}:{i}", {**env, "AWS_BATCH_JOB_ARRAY_INDEX": str(i)}, roots[i])
            for i in range(size)
        ]
        if self.mode == "rc-only":  # as many hosts would: 16 at a time
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda child: self._play(*child), children))
            return
        for child in children:
            self._play(*child)

    def _play(self, job_id: str, env: dict[str, str], call_root: str) -> None:
        self.job_ids.append(job_id)
        if self.before_run is not None and self.before_run(job_id) is False:
            return
        if self.mode == "rc-only":
            bucket, _, prefix = call_root[len("s3://") :].partition("/")
            self.s3.put_object(Bucket=bucket, Key=f"{prefix}/execution/rc", Body=b"0\n")
            return
        self.runs.append(self._run(job_id, env))

    def _run(self, job_id: str, job_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env = {
            **job_env,
            **aws_env(self.endpoint),
            "PATH": f"{VENV_BIN}:/usr/bin:/bin",
            "HOME": str(self.scratch),
            "TMPDIR": str(self.scratch),
            "AWS_BATCH_JOB_ID": job_id,
            "FETCH_AND_RUN_SLEEP_BASE": "0",
            "FETCH_AND_RUN_AWS_CLI": str(self.scratch / "no-host-cli-v2"),
            "IRONSIDE_AWS_CLI": str(VENV_BIN / "aws"),
            "LOCAL_DISK": str(self.local_disk),
        }
        return subprocess.run(
            ["bash", str(FETCH_AND_RUN)],
            env=env,
            cwd=self.scratch,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


class OperationCounter:
    """Counts a boto3 client's API calls by operation name."""

    def __init__(self, *clients: Any) -> None:
        self.calls: Counter[str] = Counter()
        for c in clients:
            c.meta.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
