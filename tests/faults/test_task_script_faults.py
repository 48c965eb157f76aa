"""The AWS Batch task script on a bad day at S3: the real AWS CLI against a failing endpoint.

A quarter of the S3 requests (seeded) are answered 500 and the CLI's own retries are
off (``AWS_MAX_ATTEMPTS=1``), so every failure reaches the script: its retried,
size-checked copies must still localize every input and delocalize every output,
each once and correct.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from WDL import Env, Value

from ironside.tasks import ScriptSpec, render_script
from ironside.tasks.s3_localizer import WORK_DIR_TOKEN, BatchLocalizer, map_inputs
from tests.e2e.batch_harness import VENV_BIN, aws_env, client, start_moto

from .failing_endpoint import failing_endpoint

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (VENV_BIN / "aws").exists(), reason="no AWS CLI in the venv"),
]

BUCKET = "script-faults"
COMMAND = f"""tr a-z A-Z < {WORK_DIR_TOKEN}/inputs/{BUCKET}/in/a.txt > upper.txt
cat {WORK_DIR_TOKEN}/inputs/{BUCKET}/in/b.txt {WORK_DIR_TOKEN}/inputs/{BUCKET}/in/a.txt > both.txt
mkdir -p parts && for i in 1 2 3; do echo "part $i" > parts/p$i.txt; done
echo done"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The moto server on loopback."""
    server, url = start_moto()
    yield url
    server.stop()


def _script(tmp: Path) -> Path:
    inputs = Env.Bindings[Value.Base]()
    for name in ("a", "b"):
        inputs = inputs.bind(name, Value.File(f"s3://{BUCKET}/in/{name}.txt"))
    _, transfers = map_inputs(inputs)
    spec = ScriptSpec(
        command=COMMAND,
        execution_dir=f"s3://{BUCKET}/out/execution",
        work_dir="unused",
        inputs=transfers,
        upload=["upper.txt", "both.txt"],
        upload_globs=["parts/*.txt"],
    )
    script = tmp / "script.sh"
    script.write_text(render_script(spec, BatchLocalizer()))
    return script


def _env(tmp: Path, url: str) -> dict[str, str]:
    disk = tmp / "disk"
    disk.mkdir()
    return {
        **aws_env(url),
        "AWS_MAX_ATTEMPTS": "1",  # the CLI does not retry: the script must
        "AWS_RETRY_MODE": "standard",
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(tmp),
        "AWS_BATCH_JOB_ID": "job-1",
        "LOCAL_DISK": str(disk),
        "IRONSIDE_AWS_CLI": str(VENV_BIN / "aws"),
        "IRONSIDE_SLEEP_BASE": "0",
    }


def _read(s3: Any, key: str) -> str:
    return str(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())


def test_script_rides_out_s3_500s(endpoint: str, tmp_path: Path) -> None:
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"alpha\n")
    s3.put_object(Bucket=BUCKET, Key="in/b.txt", Body=b"beta\n")
    script = _script(tmp_path)
    with failing_endpoint(endpoint, share=0.25, seed=3) as bad:
        env = _env(tmp_path, bad.url)
        done = subprocess.run(
            ["bash", str(script)], env=env, capture_output=True, text=True, timeout=600
        )
    assert done.returncode == 0, done.stderr
    assert bad.failed >= 3, (bad.failed, bad.forwarded)  # the script met real failures
    assert _read(s3, "out/execution/rc") == "0\n"
    assert _read(s3, "out/execution/stdout") == "done\n"
    assert _read(s3, "out/execution/upper.txt") == "ALPHA\n"
    assert _read(s3, "out/execution/both.txt") == "beta\nalpha\n"
    for i in (1, 2, 3):
        assert _read(s3, f"out/execution/parts/p{i}.txt") == f"part {i}\n"
    assert os.listdir(tmp_path / "disk") == []  # the job's directory is gone
    print(f"S3 requests forwarded {bad.forwarded}, answered 500: {bad.failed}")
