"""``ironside run`` on AWS Batch end to end: moto server, a job agent, fetch_and_run.sh.

The engine is the real one, configured by HOCON (``backend.default = "AWSBatch"``);
the only test seam is ``make_clients``, wrapped so the agent can hook the engine's
own Batch client (see ``batch_harness``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ironside import cli
from ironside.backends.aws_batch import wiring

from .batch_harness import (
    DATA_BUCKET,
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

MAIN_WDL = """version 1.0
import "summary.wdl" as summary

task count {
  input { File f }
  command <<<
    pwd > where.txt
    wc -l < ~{f} | tr -d ' ' > n.txt
    tr a-z A-Z < ~{f} > upper.txt
    echo scratch > intermediate.tmp
  >>>
  output {
    Int n = read_int("n.txt")
    File where = "where.txt"
    File upper = "upper.txt"
  }
  runtime { docker: "ubuntu:24.04"  cpu: 1  memory: "512 MB" }
}

workflow main {
  input { Array[File] files  File label }
  scatter (f in files) { call count { input: f = f } }
  call summary.summarize { input: ns = count.n, label = label }
  output {
    Array[File] uppers = count.upper
    Array[File] wheres = count.where
    File total = summarize.total
    Array[File] texts = summarize.texts
  }
}
"""

SUMMARY_WDL = """version 1.0
task add {
  input { Array[Int] ns  File label }
  command <<<
    cat ~{label} > total.txt
    echo $(( ~{sep="+" ns} )) >> total.txt
    echo note > note.txt
    mkdir -p tmp && echo scratch > tmp/sorted.bin
  >>>
  output { File total = "total.txt"  Array[File] texts = glob("*.txt") }
  runtime { docker: "ubuntu:24.04"  cpu: 2  memory: "1 GB" }
}
workflow summarize {
  input { Array[Int] ns  File label }
  call add { input: ns = ns, label = label }
  output { File total = add.total  Array[File] texts = add.texts }
}
"""


class Crash(Exception):
    """Stands for the engine process dying."""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The moto server."""
    server, url = start_moto()
    yield url
    server.stop()


@pytest.fixture
def world(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """AWS pointed at moto, a queue, inputs in S3, a config, and the agent on the engine."""
    for key, value in aws_env(endpoint).items():
        monkeypatch.setenv(key, value)
    queue = make_queue(endpoint, f"q{abs(hash(str(tmp_path))) % 10**8}")
    s3 = client("s3", endpoint)
    prefix = tmp_path.name
    for name, body in (("a/in.txt", "alpha\nbeta\n"), ("b/in.txt", "gamma\n"), ("label", "sum\n")):
        s3.put_object(Bucket=DATA_BUCKET, Key=f"{prefix}/{name}", Body=body.encode())
    (tmp_path / "main.wdl").write_text(MAIN_WDL)
    (tmp_path / "summary.wdl").write_text(SUMMARY_WDL)
    data = f"s3://{DATA_BUCKET}/{prefix}"
    inputs = {"main.files": [f"{data}/a/in.txt", f"{data}/b/in.txt"], "main.label": f"{data}/label"}
    (tmp_path / "inputs.json").write_text(json.dumps(inputs))
    db = tmp_path / "ironside.sqlite"
    (tmp_path / "ironside.conf").write_text(config_text(queue, str(db)))
    agent = JobAgent(endpoint, tmp_path / "host")
    counters: list[OperationCounter] = []
    real = wiring.make_clients

    def make_clients(settings: Any, **kwargs: Any) -> tuple[Any, Any]:
        batch, s3c = real(settings, **kwargs)
        agent.attach(batch)
        counters.append(OperationCounter(batch, s3c))
        return batch, s3c

    monkeypatch.setattr(wiring, "make_clients", make_clients)
    yield {"dir": tmp_path, "s3": s3, "agent": agent, "counters": counters, "db": db}


def _run(world: dict[str, Any], *extra: str) -> int:
    d = world["dir"]
    args = ["run", "--config", str(d / "ironside.conf"), *extra]
    if "--resume" not in extra:
        args += [str(d / "main.wdl"), "-i", str(d / "inputs.json")]
    return cli.main(args)


def _read(s3: Any, uri: str) -> str:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def _calls(counters: list[OperationCounter], op: str) -> int:
    return sum(c.calls[op] for c in counters)


def test_workflow_succeeds_on_batch(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Scatter over S3 inputs, a sub-workflow, file outputs and a glob: all in S3 under root.

    Isolation (same run): the two shards' inputs share a file name, yet each job ran in
    its own directory on the one host, wrote its own outputs, and removed its directory.
    """
    assert _run(world) == 0, capsys.readouterr().err
    agent: JobAgent = world["agent"]
    assert [r.returncode for r in agent.runs] == [0, 0, 0], [r.stderr for r in agent.runs]
    result = json.loads(capsys.readouterr().out)
    out, s3 = result["outputs"], world["s3"]
    root = f"s3://{ROOT_BUCKET}/cromwell-execution/main/{result['id']}/"
    files = [*out["main.uppers"], *out["main.wheres"], out["main.total"], *out["main.texts"]]
    assert all(f.startswith(root) for f in files), files
    assert [_read(s3, u) for u in out["main.uppers"]] == ["ALPHA\nBETA\n", "GAMMA\n"]
    assert _read(s3, out["main.total"]) == "sum\n3\n"
    assert sorted(u.rsplit("/", 1)[1] for u in out["main.texts"]) == ["note.txt", "total.txt"]
    assert _calls(world["counters"], "SubmitJob") == 2  # the scatter's array job, the summary
    assert len(agent.arrays) == 1 and list(agent.arrays.values()) == [2]
    assert _calls(world["counters"], "RegisterJobDefinition") == 1  # one image, one role
    # isolation
    wheres = [_read(s3, u).strip() for u in out["main.wheres"]]
    assert wheres == [f"{agent.local_disk}/{job}/work" for job in agent.job_ids[:2]]
    assert len(set(out["main.uppers"])) == 2
    assert list(agent.local_disk.iterdir()) == []  # every job removed its directory
    # only logs, declared outputs, files the outputs read and glob matches are uploaded
    listed = s3.list_objects_v2(Bucket=ROOT_BUCKET, Prefix=root[len(f"s3://{ROOT_BUCKET}/") :])
    names = {obj["Key"].rsplit("/", 1)[1] for obj in listed["Contents"]}
    assert {"rc", "stdout", "stderr", "n.txt", "upper.txt", "note.txt"} <= names
    assert not names & {"intermediate.tmp", "sorted.bin"}, names


def test_restarted_engine_finishes_without_resubmitting(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The engine dies after submitting (job ids stored); a new one polls and finishes."""
    real = wiring.make_clients

    def crash_on_first_poll(settings: Any, **kwargs: Any) -> tuple[Any, Any]:
        batch, s3c = real(settings, **kwargs)

        def die(**_: Any) -> None:
            raise Crash("engine killed")

        batch.meta.events.register("before-call.batch.DescribeJobs", die)
        return batch, s3c

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wiring, "make_clients", crash_on_first_poll)
        with pytest.raises(Crash):
            _run(world)
    assert _calls(world["counters"], "SubmitJob") == 1  # the scatter's two shards: one array
    wf_id, status = _workflow(world["db"])
    assert status == "Running"
    assert _run(world, "--resume", wf_id) == 0, capsys.readouterr().err
    assert _calls(world["counters"], "SubmitJob") == 2  # nothing resubmitted
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{") :])
    assert result["id"] == wf_id
    assert _read(world["s3"], result["outputs"]["main.total"]) == "sum\n3\n"


def _workflow(db: Path) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT id, status FROM ironside_workflow WHERE parent_id IS NULL"
        ).fetchall()
    assert len(rows) == 1
    return str(rows[0][0]), str(rows[0][1])


HTTP_WDL = """version 1.0
task cat {
  input { File f }
  command <<< echo "$(basename ~{f}): $(cat ~{f})" >>>
  output { String s = read_string(stdout()) }
  runtime { docker: "ubuntu:24.04" }
}
workflow web {
  input { File f }
  call cat { input: f = f }
  output { String s = cat.s  String head = read_string(f) }
}
"""


def test_an_http_input_is_staged_to_s3_by_the_engine(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Batch: the engine downloads an http(s) File (bounded, retried) to the call's
    ``inputs/`` prefix in S3; the task script localizes it as any s3:// input."""
    from tests.loopback_http import loopback_http

    d = world["dir"]
    (d / "web.wdl").write_text(HTTP_WDL)
    with loopback_http() as http:
        url = http.serve("/refs/ref.txt", "from the web", etag="r1")
        http.fail("/refs/ref.txt", 1)  # one 503 first: retried
        (d / "web.json").write_text(json.dumps({"web.f": url}))
        args = ["run", "--config", str(d / "ironside.conf"), str(d / "web.wdl"), "-i"]
        assert cli.main([*args, str(d / "web.json")]) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["outputs"] == {"web.s": "ref.txt: from the web", "web.head": "from the web"}
    prefix = f"cromwell-execution/web/{result['id']}/call-cat/inputs/http/"
    listed = world["s3"].list_objects_v2(Bucket=ROOT_BUCKET, Prefix=prefix)
    keys = [o["Key"][len(prefix) :] for o in listed.get("Contents", [])]
    assert keys == [f"127.0.0.1_{http.port}/refs/ref.txt"]


def _stderrs(s3: Any) -> dict[str, str]:
    """Every call's stderr under the root bucket (for a failure's message)."""
    listed = s3.list_objects_v2(Bucket=ROOT_BUCKET).get("Contents", [])
    keys = [o["Key"] for o in listed if o["Key"].endswith("/execution/stderr")]
    return {k: _read(s3, f"s3://{ROOT_BUCKET}/{k}") for k in keys}


#: pinned by digest: call-cacheable with docker.hash-lookup off
PINNED = "ubuntu@sha256:" + "0" * 64
DIR_WDL = """version 1.2
task index {
  input { Directory refs }
  command <<<
    mkdir -p out/nested
    ls ~{refs} | sort > out/listing.txt
    cat ~{refs}/sub/b.txt > out/nested/b-copy.txt
  >>>
  output { Directory idx = "out"  String first = read_string("out/listing.txt") }
  requirements { container: "IMAGE" }
}
task read_back {
  input { Directory idx }
  command <<< cat ~{idx}/listing.txt ~{idx}/nested/b-copy.txt >>>
  output { String text = read_string(stdout()) }
  requirements { container: "IMAGE" }
}
workflow dirs {
  input { Directory refs }
  call index { input: refs = refs }
  call read_back { input: idx = index.idx }
  output { Directory idx = index.idx  String text = read_back.text }
}
""".replace("IMAGE", PINNED)


def test_directory_inputs_and_outputs_on_batch(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A Directory input is an S3 prefix copied down recursively; a Directory output is
    uploaded under the call's prefix and read by the next job as a Directory input."""
    d, s3 = world["dir"], world["s3"]
    prefix = f"{d.name}/refs"
    for key, body in (("a.txt", "A"), ("sub/b.txt", "bee\n")):
        s3.put_object(Bucket=DATA_BUCKET, Key=f"{prefix}/{key}", Body=body.encode())
    (d / "dirs.wdl").write_text(DIR_WDL)
    (d / "dirs.json").write_text(json.dumps({"dirs.refs": f"s3://{DATA_BUCKET}/{prefix}"}))
    args = ["run", "--config", str(d / "ironside.conf"), str(d / "dirs.wdl")]
    rc = cli.main([*args, "-i", str(d / "dirs.json")])
    assert rc == 0, _stderrs(s3)
    result = json.loads(capsys.readouterr().out)
    out = result["outputs"]
    assert out["dirs.text"] == "a.txt\nsub\nbee"
    idx = out["dirs.idx"]
    assert idx.startswith(f"s3://{ROOT_BUCKET}/cromwell-execution/dirs/{result['id']}/call-index/")
    bucket, _, key = idx[len("s3://") :].partition("/")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/") + "/")
    names = sorted(o["Key"][len(key.rstrip("/")) + 1 :] for o in listed["Contents"])
    assert names == ["listing.txt", "nested/b-copy.txt"]
    # again: both calls are cache hits (a Directory's identity is its keys and ETags), and
    # the hit's Directory output is a copy of every object under the prefix
    jobs = len(world["agent"].runs)
    md = d / "md.json"
    assert cli.main([*args, "-i", str(d / "dirs.json"), "-m", str(md)]) == 0
    caching = {k: v[0].get("callCaching") for k, v in json.loads(md.read_text())["calls"].items()}
    assert all(c and c["hit"] for c in caching.values()), {
        k: c and c["hit"] for k, c in caching.items()
    }
    again = json.loads(capsys.readouterr().out)
    assert len(world["agent"].runs) == jobs
    assert again["outputs"]["dirs.text"] == out["dirs.text"]
    bucket, _, key = again["outputs"]["dirs.idx"][len("s3://") :].partition("/")
    assert again["id"] in key
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/") + "/")
    assert sorted(o["Key"][len(key.rstrip("/")) + 1 :] for o in listed["Contents"]) == names
