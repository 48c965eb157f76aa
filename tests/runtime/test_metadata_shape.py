"""Cromwell's metadata keys on a scatter + sub-workflow + retried failure + cache hit run."""

from __future__ import annotations

import json
from typing import Any

from tests.runtime.conftest import Runner

SUB = """version 1.0
task inc { input { Int x } command <<< echo $(( ~{x} + 1 )) >>>
  output { Int y = read_int(stdout()) } }
workflow inner { input { Int x } call inc { input: x = x } output { Int y = inc.y } }
"""
MAIN = """version 1.0
import "sub.wdl" as sub
task flaky {
  input { String marker }
  command <<< if [ -e ~{marker} ]; then echo ok; else touch ~{marker}; exit 3; fi >>>
  runtime { maxRetries: 1 }
  output { String s = read_string(stdout()) }
}
workflow w {
  input { String marker }
  scatter (i in [1, 2]) { call sub.inner as nested { input: x = i } }
  call flaky { input: marker = marker }
  output { Array[Int] ys = nested.y  String s = flaky.s }
}
"""
RUN_PHASES = ["Pending", "PreparingJob", "CallCacheReading", "RunningJob"]
RUN_PHASES += ["UpdatingCallCache", "UpdatingJobStore"]
HIT_PHASES = ["Pending", "PreparingJob", "CallCacheReading", "UpdatingJobStore"]


def _run(runner: Runner, n: int) -> dict[str, Any]:
    res = runner.run(MAIN, {"w.marker": str(runner.workdir / "marker")}, extra=["-m", f"{n}.json"])
    assert res.rc == 0, res.stderr
    return dict(json.loads((runner.workdir / f"{n}.json").read_text()))


def _no_nulls(md: dict[str, Any]) -> None:
    assert "start" in md and md.get("end") is not None
    for entries in md["calls"].values():
        for entry in entries:
            assert entry.get("start") is not None and entry.get("end") is not None


def test_metadata_keys_as_cromwell_shows_them(runner: Runner) -> None:
    runner.write("sub.wdl", SUB)
    runner.config_text = "call-caching { enabled = true }"
    md = _run(runner, 1)
    assert md["actualWorkflowLanguage"] == "WDL" and md["actualWorkflowLanguageVersion"] == "1.0"
    assert [e["description"] for e in md["workflowProcessingEvents"]] == ["PickedUp", "Finished"]
    assert md["submittedFiles"]["root"] == "" and md["submittedFiles"]["imports"] == {}
    _no_nulls(md)
    first, second = md["calls"]["w.flaky"]
    assert (first["executionStatus"], second["executionStatus"]) == ("RetryableFailure", "Done")
    assert first["retryableFailure"] is True and second["retryableFailure"] is False
    assert first["backendStatus"] == "Failed" and second["backendStatus"] == "Done"
    assert first["returnCode"] == 3 and first["jobId"].isdigit()
    assert second["runtimeAttributes"]["maxRetries"] == "1"
    assert second["runtimeAttributes"]["failOnStderr"] == "false"
    assert [e["description"] for e in second["executionEvents"]] == RUN_PHASES
    hashes = second["callCaching"]["hashes"]
    assert set(hashes["input"]) == {"String marker"} and "docker" in hashes["runtime attribute"]
    shard = md["calls"]["w.nested"][1]
    inner = shard["subWorkflowMetadata"]
    assert inner["rootWorkflowId"] == md["id"] and inner["parentWorkflowId"] == md["id"]
    assert inner["actualWorkflowLanguageVersion"] == "1.0"
    assert inner["calls"]["inner.inc"][0]["outputs"] == {"y": 3}

    again = _run(runner, 2)
    (hit,) = again["calls"]["w.flaky"]
    assert hit["callCaching"]["hit"] is True
    assert hit["returnCode"] == 0 and hit["jobId"] == second["jobId"]
    assert [e["description"] for e in hit["executionEvents"]] == HIT_PHASES
    _no_nulls(again)
