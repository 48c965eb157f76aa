"""Metadata in Cromwell's shape."""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import random
import re
from pathlib import Path

import pytest

from ironside.errors import UnknownWorkflow
from ironside.metadata import _loads, iso, workflow_metadata
from ironside.store import open_store
from tests.runtime.conftest import Runner

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_metadata_shape_success_and_failure(runner: Runner) -> None:
    """Top-level keys, call entries with every field, failures with causedBy."""
    wdl = """version 1.0
task ok { input { Int n } command <<< echo ~{n} >>>
  runtime { cpu: 2  memory: "2 GB" }
  output { Int o = read_int(stdout()) } }
task bad { command <<< echo broken >&2; exit 7 >>> }
workflow m {
  input { Int n = 4 }
  call ok { input: n = n }
  call bad
  output { Int o = ok.o }
}
"""
    res = runner.run(
        wdl,
        labels={"owner": "me"},
        options={"workflow_failure_mode": "ContinueWhilePossible"},
        extra=["-m", "md.json"],
    )
    assert res.rc == 1
    md = json.loads((runner.workdir / "md.json").read_text())
    for key in (
        "id",
        "workflowName",
        "status",
        "submission",
        "start",
        "end",
        "inputs",
        "outputs",
        "labels",
        "calls",
        "failures",
        "workflowRoot",
    ):
        assert key in md, key
    assert md["workflowName"] == "m" and md["status"] == "Failed"
    assert md["inputs"] == {"m.n": 4}
    assert md["labels"]["owner"] == "me"
    assert md["labels"]["cromwell-workflow-id"] == f"cromwell-{md['id']}"
    for key in ("submission", "start", "end"):
        assert ISO.match(md[key]), md[key]
    ok = md["calls"]["m.ok"][0]
    for key in (
        "shardIndex",
        "attempt",
        "executionStatus",
        "backend",
        "callRoot",
        "stdout",
        "stderr",
        "commandLine",
        "runtimeAttributes",
        "inputs",
        "outputs",
        "returnCode",
        "start",
        "end",
        "executionEvents",
    ):
        assert key in ok, key
    assert ok["shardIndex"] == -1 and ok["attempt"] == 1 and ok["executionStatus"] == "Done"
    assert ok["commandLine"] == "echo 4"
    assert ok["runtimeAttributes"]["memory"] == "2 GB" and ok["runtimeAttributes"]["cpu"] == "2"
    assert ok["inputs"] == {"n": 4} and ok["outputs"] == {"o": 4} and ok["returnCode"] == 0
    bad = md["calls"]["m.bad"][0]
    assert bad["executionStatus"] == "Failed" and bad["returnCode"] == 7
    assert "return code 7" in bad["failures"][0]["message"]
    assert md["failures"][0]["message"] == "Workflow failed"  # Cromwell's wrapping
    (cause,) = md["failures"][0]["causedBy"]
    assert "m.bad" in cause["message"] and cause["causedBy"] == []


def _strftime_iso(ts: float) -> str:
    """The original formatting, kept here as the reference for ``iso``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_iso_is_the_strftime_format() -> None:
    rng = random.Random(7)
    stamps = [0.0, 0.0005, 0.9994999, 0.9999996, 1e9 + 0.0015, 1763782851.9999999, 4102444800.5]
    stamps += [rng.uniform(0, 4e9) for _ in range(20_000)]
    for ts in stamps:
        assert iso(ts) == _strftime_iso(ts), ts
    assert iso(None) is None


def test_loads_is_json_loads() -> None:
    for text in ('{"a": [1, 2.5, "x", null, true]}', ' {"a": 1}', '{"a": 1}\n', '"s"', "7"):
        assert _loads(text, None) == json.loads(text), text
    assert math.isnan(_loads("NaN", None))
    assert _loads("", {"d": 1}) == {"d": 1} and _loads(None, []) == []
    for bad in ('{"a":', "1,2", "{} {}", "nope"):
        with pytest.raises(json.JSONDecodeError):
            _loads(bad, None)


def test_calls_sharing_a_runtime_get_their_own_attributes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'md.sqlite'}")
    wf = "00000000-0000-4000-8000-000000000001"
    store.create_workflow(
        {
            "id": wf, "parent_id": None, "parent_call": None, "parent_shard": None,
            "name": "w", "status": "Succeeded", "workflow_url": "", "source": "",
            "imports_zip": None, "inputs": "{}", "options": "{}", "backend": "Local",
            "root": str(tmp_path), "outputs": "{}", "failures": None,
            "submitted": 1.0, "started": 2.0, "ended": 3.0,
        }
    )  # fmt: skip
    for shard in range(2):
        store.add_call(
            {
                "workflow_id": wf, "fqn": "w.t", "shard": shard, "attempt": 1, "status": "Done",
                "backend": "Local", "call_root": f"{tmp_path}/call-t/shard-{shard}",
                "job_id": "j", "return_code": 0, "inputs": "{}", "outputs": "{}",
                "runtime": '{"cpu": 2, "memory": "2 GB", "preemptible": true}',
                "command": "true", "failures": None, "sub_workflow_id": None,
                "cached": False, "started": 2.0, "ended": 0.0,
            }
        )  # fmt: skip
    store.flush()
    a, b = workflow_metadata(store, wf)["calls"]["w.t"]
    expected = {"cpu": "2", "memory": "2 GB", "preemptible": "true"}
    expected |= {"continueOnReturnCode": "0", "failOnStderr": "false", "maxRetries": "0"}
    assert a["runtimeAttributes"] == b["runtimeAttributes"] == expected
    a["runtimeAttributes"]["cpu"] = "99"
    assert b["runtimeAttributes"]["cpu"] == "2"
    assert a["stdout"] == f"{tmp_path}/call-t/shard-0/execution/stdout"
    assert "endTime" not in a["executionEvents"][-1]  # ended 0.0: not known
    store.close()


def test_the_collector_is_as_it_was_after_a_build(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'gc.sqlite'}")
    with pytest.raises(UnknownWorkflow):  # a failed build too
        workflow_metadata(store, "00000000-0000-4000-8000-000000000002")
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(UnknownWorkflow):
            workflow_metadata(store, "00000000-0000-4000-8000-000000000002")
        assert not gc.isenabled()
    finally:
        gc.enable()
    store.close()
