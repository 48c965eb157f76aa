"""Call caching on S3 through the real engine: ``ironside run`` on AWS Batch (moto on loopback).

The engine, its config, the AWS Batch backend and the call cache are the real
ones; a job agent runs each submitted job's ``fetch_and_run.sh`` (see
``tests/e2e/batch_harness``). S3 requests are counted by operation on the
engine's clients: a hit copies server-side and never reads output data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ironside.backends.aws_batch.wiring as wiring
import ironside.cli as cli
from tests.e2e.batch_harness import (
    DATA_BUCKET,
    NEEDS_AGENT,
    JobAgent,
    OperationCounter,
    aws_env,
    client,
    config_text,
    make_queue,
    start_moto,
)

pytestmark = [
    pytest.mark.timeout(300),
    *NEEDS_AGENT,
]

WDL = """version 1.0
task shout {
  input { File f }
  command <<< tr a-z A-Z < ~{f} > up.txt; head -c 6000000 /dev/zero > big.bin >>>
  output { File up = "up.txt"  File big = "big.bin" }
  runtime { docker: "ubuntu@sha256:%s"  cpu: 1  memory: "512 MB" }
}
workflow w {
  input { File f }
  call shout { input: f = f }
  output { File up = shout.up  File big = shout.big }
}
""" % ("e" * 64)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The moto server on 127.0.0.1."""
    server, url = start_moto()
    yield url
    server.stop()


class World:
    """AWS pointed at moto, a queue, an S3 input, a config; runs ``ironside run``."""

    def __init__(self, endpoint: str, tmp: Path, strategy: str, extra: str = "") -> None:
        self.tmp = tmp
        self.s3 = client("s3", endpoint)
        queue = make_queue(endpoint, f"c{abs(hash(str(tmp))) % 10**8}")
        self.s3.put_object(Bucket=DATA_BUCKET, Key=f"{tmp.name}/in.txt", Body=b"quiet\n")
        (tmp / "w.wdl").write_text(WDL)
        inputs = {"w.f": f"s3://{DATA_BUCKET}/{tmp.name}/in.txt"}
        (tmp / "inputs.json").write_text(json.dumps(inputs))
        caching = "backend.providers.AWSBatch.config.filesystems.s3.caching"
        text = config_text(queue, str(tmp / "ironside.sqlite"))
        text += f'{caching}.duplication-strategy = "{strategy}"\n' + extra
        (tmp / "app.conf").write_text(text)
        self.agent = JobAgent(endpoint, tmp / "host")
        self.counters: list[OperationCounter] = []

    def make_clients(self, real: Any) -> Any:
        """``wiring.make_clients`` with the agent and the counters on its clients."""

        def made(settings: Any, **kwargs: Any) -> tuple[Any, Any]:
            batch, s3c = real(settings, **kwargs)
            self.agent.attach(batch)
            self.counters.append(OperationCounter(batch, s3c))
            return batch, s3c

        return made

    def calls(self, op: str) -> int:
        """How many ``op`` requests the engine's clients sent so far."""
        return sum(c.calls[op] for c in self.counters)

    def run(self, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
        """One ``ironside run``; its printed result (fails unless it Succeeds)."""
        argv = ["run", str(self.tmp / "w.wdl"), "-i", str(self.tmp / "inputs.json")]
        metadata = self.tmp / "metadata.json"
        argv += ["--config", str(self.tmp / "app.conf"), "-m", str(metadata)]
        capsys.readouterr()
        rc = cli.main(argv)
        out = capsys.readouterr()
        assert rc == 0, out.err[-3000:]
        result: dict[str, Any] = json.loads(out.out[out.out.index("{") :])
        calls = json.loads(metadata.read_text())["calls"]["w.shout"]
        result["callCaching"] = calls[-1]["callCaching"]
        return result

    def read(self, uri: str) -> str:
        """An object's text (through the test's own client, not counted)."""
        bucket, _, key = uri[len("s3://") :].partition("/")
        return str(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def _world(
    endpoint: str, tmp: Path, mp: pytest.MonkeyPatch, strategy: str, extra: str = ""
) -> Iterator[World]:
    for key, value in aws_env(endpoint).items():
        mp.setenv(key, value)
    world = World(endpoint, tmp, strategy, extra)
    mp.setattr(wiring, "make_clients", world.make_clients(wiring.make_clients))
    yield world


@pytest.fixture
def copy_world(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Duplication by server-side copy."""
    yield from _world(endpoint, tmp_path, monkeypatch, "copy")


@pytest.fixture
def multipart_world(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """Server-side copy in parts above a threshold lowered to 5 MiB."""
    threshold = "backend.providers.AWSBatch.config.filesystems.s3.caching.multipart-threshold"
    yield from _world(endpoint, tmp_path, monkeypatch, "copy", f'{threshold} = "5 MiB"\n')


@pytest.fixture
def reference_world(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """Duplication by reference."""
    yield from _world(endpoint, tmp_path, monkeypatch, "reference")


def test_s3_hit_copies_server_side_and_reads_no_output_data(
    copy_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = copy_world
    first = world.run(capsys)
    assert len(world.agent.job_ids) == 1 and world.read(first["outputs"]["w.up"]) == "QUIET\n"
    gets, copies = world.calls("GetObject"), world.calls("CopyObject")
    second = world.run(capsys)
    assert len(world.agent.job_ids) == 1  # no job for the hit
    assert world.calls("SubmitJob") == 1
    assert world.calls("CopyObject") > copies
    assert world.calls("GetObject") == gets  # no output data through the engine
    up = second["outputs"]["w.up"]
    assert second["id"] in up and "/cacheCopy/" in up and world.read(up) == "QUIET\n"
    assert second["callCaching"]["result"] == f"Cache Hit: {first['id']}:w.shout:-1"


def test_deleted_source_invalidates_the_entry_and_the_call_reruns(
    copy_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = copy_world
    first = world.run(capsys)
    bucket, _, key = first["outputs"]["w.up"][len("s3://") :].partition("/")
    world.s3.delete_object(Bucket=bucket, Key=key)
    second = world.run(capsys)  # Succeeds: the entry is invalidated, the job runs again
    assert len(world.agent.job_ids) == 2
    assert second["callCaching"]["hit"] is False
    assert "hitFailures" in second["callCaching"]
    assert world.read(second["outputs"]["w.up"]) == "QUIET\n"
    third = world.run(capsys)  # the new result is the one reused
    assert len(world.agent.job_ids) == 2
    assert third["callCaching"]["result"] == f"Cache Hit: {second['id']}:w.shout:-1"


def test_s3_hit_above_the_threshold_copies_in_parts(
    multipart_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = multipart_world
    world.run(capsys)
    parts, gets = world.calls("UploadPartCopy"), world.calls("GetObject")
    second = world.run(capsys)
    assert len(world.agent.job_ids) == 1 and second["callCaching"]["hit"] is True
    assert world.calls("UploadPartCopy") > parts  # the 6 MB output, in parts
    assert world.calls("GetObject") == gets
    head = world.s3.head_object(**_location(second["outputs"]["w.big"]))
    assert head["ContentLength"] == 6_000_000


def _location(uri: str) -> dict[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return {"Bucket": bucket, "Key": key}


def test_s3_reference_copies_nothing(
    reference_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = reference_world
    first = world.run(capsys)
    copies = world.calls("CopyObject") + world.calls("UploadPartCopy")
    gets = world.calls("GetObject")
    second = world.run(capsys)
    assert len(world.agent.job_ids) == 1
    assert world.calls("CopyObject") + world.calls("UploadPartCopy") == copies
    assert world.calls("GetObject") == gets
    assert second["outputs"]["w.up"] == first["outputs"]["w.up"]  # points at the original
    assert second["callCaching"]["hit"] is True
