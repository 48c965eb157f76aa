"""fetch_and_run.sh for real: the venv's AWS CLI against a moto S3 server on loopback."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ironside.backends.aws_batch import arrays
from launch_template.user_data import HOST_ASSETS_DIR

FETCH_AND_RUN = HOST_ASSETS_DIR / "fetch_and_run.sh"
BUCKET = "ironside-scripts"
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(shutil.which("aws", path=str(VENV_BIN)) is None, reason="no aws")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def _put(endpoint: str, key: str, body: str | bytes) -> str:
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return f"s3://{BUCKET}/{key}"


def _run(
    endpoint: str, tmp_path: Path, url: str, *args: str, path_prefix: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    environment = {
        "PATH": f"{path_prefix}{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "BATCH_FILE_TYPE": "script",
        "BATCH_FILE_S3_URL": url,
        "FETCH_AND_RUN_SLEEP_BASE": "0",
        "FETCH_AND_RUN_AWS_CLI": str(tmp_path / "no-such-aws-cli-v2"),
        **env,
    }
    return subprocess.run(
        ["bash", str(FETCH_AND_RUN), *args],
        env=environment,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_runs_the_script_and_exits_with_its_code(endpoint: str, tmp_path: Path) -> None:
    script = 'echo "hello from $1"; echo out > result.txt; echo oops >&2; exit 7\n'
    url = _put(endpoint, "scripts/abc123", script)
    result = _run(endpoint, tmp_path, url, "task-a")
    assert result.returncode == 7, result.stderr
    assert result.stdout == "hello from task-a\n"
    assert "oops" in result.stderr
    assert (tmp_path / "work" / "result.txt").read_text() == "out\n"


def _put_packed(endpoint: str, key: str, scripts: list[str]) -> str:
    packed = io.BytesIO()
    arrays.write_packed(packed, scripts)
    return _put(endpoint, key, packed.getvalue())


def test_array_child_runs_its_script_from_the_packed_object(endpoint: str, tmp_path: Path) -> None:
    """Each child reads its entry, then its script: multi-byte text counts in bytes."""
    scripts = [f"echo 'child {i} éè'; exit {10 + i}\n" * (i + 1) for i in range(3)]
    url = _put_packed(endpoint, "arrays/wf/name/scripts", scripts)
    for index in (0, 2, 1):
        env = {"BATCH_FILE_TYPE": "packed", "AWS_BATCH_JOB_ARRAY_INDEX": str(index)}
        result = _run(endpoint, tmp_path, url, **env)
        expected = (10 + index, f"child {index} éè\n")
        assert (result.returncode, result.stdout) == expected, result.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"#!/bin/bash\necho not a packed object, only long enough for one entry\n", "is not"),
        (b"%020d %020d\n" % (42, 99) + b"echo short\n", "its entry says 99"),
    ],
)
def test_unreadable_packed_object_is_retried_then_reported(
    endpoint: str, tmp_path: Path, body: bytes, message: str
) -> None:
    url = _put(endpoint, "arrays/wf/bad/scripts", body)
    env = {"BATCH_FILE_TYPE": "packed", "AWS_BATCH_JOB_ARRAY_INDEX": "0"}
    result = _run(endpoint, tmp_path, url, **env)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count(message) == 5, result.stderr
    assert f"giving up on {url} after 5 attempts" in result.stderr


def test_packed_index_past_the_table_is_reported(endpoint: str, tmp_path: Path) -> None:
    url = _put_packed(endpoint, "arrays/wf/two/scripts", ["echo a\n", "echo b\n"])
    env = {
        "BATCH_FILE_TYPE": "packed",
        "AWS_BATCH_JOB_ARRAY_INDEX": "5",
        "FETCH_AND_RUN_ATTEMPTS": "1",
    }
    result = _run(endpoint, tmp_path, url, **env)
    assert result.returncode == 1 and result.stdout == ""
    assert "entry 5 of" in result.stderr or "entry 5 is not" in result.stderr, result.stderr


def test_zero_exit_code_passes_through(endpoint: str, tmp_path: Path) -> None:
    url = _put(endpoint, "scripts/ok", "true\n")
    assert _run(endpoint, tmp_path, url).returncode == 0


def test_missing_script_fails_after_five_attempts(endpoint: str, tmp_path: Path) -> None:
    result = _run(endpoint, tmp_path, f"s3://{BUCKET}/scripts/missing")
    assert result.returncode == 1
    assert result.stderr.count("cannot read the size of") == 5
    assert "attempt 4/5 failed" in result.stderr
    assert "attempt 5/5 failed" not in result.stderr
    assert "giving up on s3://ironside-scripts/scripts/missing after 5 attempts" in result.stderr
    assert not list(tmp_path.glob("fetch_and_run.*")), "temporary directory left behind"


def _flaky_aws(tmp_path: Path, mode: str, failures: int) -> str:
    """An `aws` wrapper whose first `failures` `s3 cp` calls fail or truncate the file."""
    bindir = tmp_path / "flaky-bin"
    bindir.mkdir()
    counter = tmp_path / "cp-count"
    counter.write_text("0")
    wrapper = bindir / "aws"
    wrapper.write_text(
        f"""#!/bin/bash
if [ "$1 $2" = "s3 cp" ]; then
  n=$(( $(cat {counter}) + 1 )); echo "$n" > {counter}
  if [ "$n" -le {failures} ]; then
    if [ {mode} = fail ]; then echo "simulated network error" >&2; exit 1; fi
    {VENV_BIN}/aws "$@" || exit 1; dest="${{@: -1}}"; printf 'x' > "$dest"; exit 0
  fi
fi
exec {VENV_BIN}/aws "$@"
"""
    )
    wrapper.chmod(0o755)
    return f"{bindir}:"


def test_transient_download_errors_are_retried(endpoint: str, tmp_path: Path) -> None:
    url = _put(endpoint, "scripts/flaky", "echo recovered\n")
    prefix = _flaky_aws(tmp_path, "fail", failures=2)
    result = _run(endpoint, tmp_path, url, path_prefix=prefix)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "recovered\n"
    assert result.stderr.count("download of s3://ironside-scripts/scripts/flaky failed") == 2
    assert (tmp_path / "cp-count").read_text().strip() == "3"


def test_size_mismatch_is_retried_then_reported(endpoint: str, tmp_path: Path) -> None:
    url = _put(endpoint, "scripts/short", "echo complete\n")
    prefix = _flaky_aws(tmp_path, "truncate", failures=5)
    result = _run(endpoint, tmp_path, url, path_prefix=prefix)
    assert result.returncode == 1
    assert result.stderr.count("downloaded 1 bytes, S3 says 14") == 5
    assert result.stdout == ""


def test_prefers_the_host_cli_when_mounted(endpoint: str, tmp_path: Path) -> None:
    url = _put(endpoint, "scripts/host-cli", "echo via-host-cli\n")
    host_cli = tmp_path / "host-aws"
    host_cli.write_text(
        f'#!/bin/bash\necho used >> {tmp_path}/host-cli-used\nexec {VENV_BIN}/aws "$@"\n'
    )
    host_cli.chmod(0o755)
    result = _run(endpoint, tmp_path, url, FETCH_AND_RUN_AWS_CLI=str(host_cli))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "via-host-cli\n"
    assert (tmp_path / "host-cli-used").read_text().count("used") == 2


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BATCH_FILE_TYPE": "zip"}, "BATCH_FILE_TYPE must be 'script' or 'packed', not 'zip'"),
        ({"BATCH_FILE_S3_URL": "https://x/y"}, "BATCH_FILE_S3_URL must be s3://bucket/key"),
        ({"BATCH_FILE_S3_URL": "s3://bucket-only"}, "BATCH_FILE_S3_URL must be s3://bucket/key"),
        ({"FETCH_AND_RUN_SLEEP_BASE": "soon"}, "must be whole numbers"),
        ({"BATCH_FILE_TYPE": "packed"}, "AWS_BATCH_JOB_ARRAY_INDEX is '', not an index"),
        (
            {"BATCH_FILE_TYPE": "packed", "AWS_BATCH_JOB_ARRAY_INDEX": "x1"},
            "AWS_BATCH_JOB_ARRAY_INDEX is 'x1', not an index",
        ),
    ],
)
def test_bad_environment_is_rejected(
    endpoint: str, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = _run(endpoint, tmp_path, f"s3://{BUCKET}/scripts/ok", **env)
    assert result.returncode == 1
    assert message in result.stderr
