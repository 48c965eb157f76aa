"""Metadata in Cromwell's shape."""

from __future__ import annotations

import json
import re

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
    assert md["failures"][0]["causedBy"] == []
    assert "m.bad" in md["failures"][0]["message"]
