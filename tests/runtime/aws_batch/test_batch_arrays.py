"""Array jobs in the AWS Batch backend, moto in process: grouping, ids, abort, adoption."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest

from ironside.backends.aws_batch import arrays
from ironside.backends.aws_batch.backend import AwsBatchBackend
from ironside.backends.aws_batch.wiring import make_backend
from ironside.backends.base import JobRequest, SubmitLater

from .batch_helpers import CallCounter
from .conftest import ROOT_BUCKET


def _request(shard: int, attempt: int = 1, memory: str = "1 GiB", call: str = "wf.t") -> JobRequest:
    return JobRequest(
        workflow_id="wf-1",
        call_fqn=call,
        shard=shard,
        attempt=attempt,
        call_root=f"s3://{ROOT_BUCKET}/wf/{call}/shard-{shard}/attempt-{attempt}",
        script=f"echo {call} {shard} {attempt}\n",
        runtime={"docker": "ubuntu:24.04", "memory": memory},
    )


def _ids(backend: AwsBatchBackend, requests: list[JobRequest]) -> dict[int, str]:
    """submit_all's outcomes, each a job id."""
    outcomes = dict(backend.submit_all(requests))
    assert all(isinstance(o, str) for o in outcomes.values()), outcomes
    return {i: str(o) for i, o in outcomes.items()}


def _backend(config: dict[str, Any], batch: Any, s3: Any, **extra: Any) -> AwsBatchBackend:
    return make_backend({**config, **extra}, batch=batch, s3=s3)


def test_group_cuts_chunks_of_10000_and_leaves_small_groups_single() -> None:
    items = [("a", i) for i in range(20_001)] + [("b", 0), (None, 1)]
    chunks, singles = arrays.group(items, lambda item: item[0], min_size=2)
    assert [len(c) for c in chunks] == [10_000, 10_000]
    assert sorted(singles, key=str) == [("a", 20_000), ("b", 0), (None, 1)]


def test_alike_shards_are_one_array_the_rest_single_jobs(
    config: dict[str, Any], batch: Any, s3: Any
) -> None:
    backend = _backend(config, batch, s3)
    counter = CallCounter(batch)
    requests = [_request(i) for i in range(3)]
    requests += [_request(3, memory="2 GiB"), _request(4, attempt=2), _request(0, call="wf.u")]
    outcomes = _ids(backend, requests)
    submits = counter.params["SubmitJob"]
    assert len(submits) == 4  # one array (shards 0-2) and three single jobs
    [array] = [p for p in submits if "arrayProperties" in p]
    assert array["arrayProperties"] == {"size": 3}
    array_id = arrays.array_of(outcomes[0])
    assert array_id and [outcomes[i] for i in range(3)] == [f"{array_id}:{i}" for i in range(3)]
    assert all(arrays.array_of(outcomes[i]) is None for i in (3, 4, 5))
    env = {e["name"]: e["value"] for e in array["containerOverrides"]["environment"]}
    assert env["BATCH_FILE_TYPE"] == "packed"
    key = env["BATCH_FILE_S3_URL"][len("s3://") :].partition("/")[2]
    packed = s3.get_object(Bucket=backend.settings.script_bucket, Key=key)["Body"].read()
    scripts = [arrays.read_packed(packed, i).decode() for i in range(3)]
    assert scripts == [r.script for r in requests[:3]]  # child i's script at its index
    info = backend.call_metadata(outcomes[1])
    assert info is not None and info["arrayJobId"] == array_id and info["arrayIndex"] == 1


def test_never_and_min_size_submit_single_jobs(config: dict[str, Any], batch: Any, s3: Any) -> None:
    for extra in ({"array-jobs": "never"}, {"array-jobs-min-size": 4}):
        backend = _backend(config, batch, s3, **extra)
        outcomes = _ids(backend, [_request(i) for i in range(3)])
        assert all(arrays.array_of(job_id) is None for job_id in outcomes.values()), extra


def test_throttled_array_submit_is_submit_later_for_all(
    config: dict[str, Any], batch: Any, s3: Any
) -> None:
    backend = _backend(config, batch, s3)
    backend.submit_limiter.rate = 0.001  # next token in 1,000 s
    while backend.submit_limiter.try_acquire():
        pass
    outcomes = dict(backend.submit_all([_request(i) for i in range(3)]))
    assert all(isinstance(o, SubmitLater) for o in outcomes.values())


def test_aborting_every_child_is_one_terminate_of_the_array(
    config: dict[str, Any], batch: Any, s3: Any
) -> None:
    backend = _backend(config, batch, s3)
    ids = [job_id for _, job_id in backend.submit_all([_request(i) for i in range(4)])]
    assert all(isinstance(job_id, str) for job_id in ids)
    counter = CallCounter(batch)
    backend.abort(str(ids[0]))  # one child alone: its own TerminateJob at the next poll
    backend.poll([])
    assert [p["jobId"] for p in counter.params["TerminateJob"]] == [ids[0]]
    for job_id in ids:
        backend.abort(str(job_id))
    backend.poll([])
    array_id = arrays.array_of(str(ids[0]))
    assert [p["jobId"] for p in counter.params["TerminateJob"]] == [ids[0], array_id]


def test_restarted_backend_adopts_children_through_the_manifest(
    config: dict[str, Any], batch: Any, s3: Any
) -> None:
    requests = [_request(i) for i in range(3)]
    ids = dict(_backend(config, batch, s3).submit_all(requests))
    restarted = _backend(config, batch, s3)
    counter = CallCounter(batch)
    assert [restarted.recover(r, None) for r in requests] == [ids[i] for i in range(3)]
    assert counter.calls["SubmitJob"] == 0 and counter.calls["ListJobs"] == 1  # the array's name
    assert restarted.recover(_request(7), None) is None  # in no array, no job: never started


@pytest.mark.parametrize("url", ["s3://b/k", "s3://b/arrays/x/scripts#3"])
def test_array_of_reads_only_child_ids(url: str) -> None:
    assert arrays.array_of(url) is None
    assert (
        arrays.array_of("abc-123:7") == "abc-123" and arrays.child_id("abc-123", 7) == "abc-123:7"
    )


def test_packed_object_reads_back_every_script_by_its_index() -> None:
    scripts = [
        "echo a\n",
        "",
        "printf '\u00e9\u4e2d'\n" * 50,
        "x" * arrays.SPOOL_BYTES,
    ]  # past the spool: a file
    with tempfile.SpooledTemporaryFile(max_size=arrays.SPOOL_BYTES) as out:
        arrays.write_packed(out, scripts)
        out.seek(0)
        packed = out.read()
    assert len(packed) == arrays.ENTRY_BYTES * 4 + sum(len(s.encode()) for s in scripts)
    assert [arrays.read_packed(packed, i).decode() for i in range(4)] == scripts
    assert packed[: arrays.ENTRY_BYTES] == b"%020d %020d\n" % (arrays.ENTRY_BYTES * 4, 7)
