"""Runtime attributes set in the inputs JSON (``wf.call.runtime.memory``): WDL 1.1's
"Specifying / Overriding Runtime Attributes", and Cromwell's extension in 1.0 (warned)."""

from __future__ import annotations

import json

import pytest

from ironside.engine.submit import build_submission
from ironside.errors import BadInputs
from tests.runtime.conftest import Runner, RunResult

LIB = """version {version}
task show {{
  input {{ Int n = 0 }}
  command <<< echo "~{{n}}" >>>
  output {{ String s = read_string(stdout()) }}
  runtime {{ memory: "1 GB"  maxRetries: 0 }}
}}
workflow inner {{
  call show as deep
  output {{ String s = deep.s }}
}}
"""
MAIN = """version {version}
import "lib.wdl" as lib
workflow w {{
  scatter (i in [1, 2]) {{ call lib.show {{ input: n = i }} }}
  call lib.show as other
  call lib.inner as sub
  output {{ Array[String] s = show.s }}
}}
"""
FLAT = """version 1.1
task show {
  command <<< echo hi >>>
  runtime { memory: "1 GB" }
}
workflow w {
  scatter (i in [1, 2]) { call show }
  if (true) { call show as other }
}
"""


def _run(runner: Runner, version: str, inputs: dict[str, object] | None, *extra: str) -> RunResult:
    runner.write("lib.wdl", LIB.format(version=version))
    return runner.run(MAIN.format(version=version), inputs, extra=list(extra))


def _runtimes(md: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    calls = md["calls"]
    assert isinstance(calls, dict)
    return {
        name: [a["runtimeAttributes"] for a in attempts]
        for name, attempts in calls.items()
        if name != "w.sub"
    }


def _sub_runtime(md: dict[str, object]) -> dict[str, object]:
    calls = md["calls"]
    assert isinstance(calls, dict)
    sub = calls["w.sub"][0]["subWorkflowMetadata"]
    return dict(sub["calls"]["inner.deep"][0]["runtimeAttributes"])


def test_wdl_1_1_overrides_each_shard_and_sub_workflow_calls(runner: Runner) -> None:
    inputs = {
        "w.show.runtime.memory": "3 GB",
        "w.show.runtime.cpu": 2,
        "w.sub.deep.runtime.memory": "5 GB",
    }
    res = _run(runner, "1.1", inputs, "-m", "md.json")
    assert res.rc == 0, res.stderr
    md = json.loads((runner.workdir / "md.json").read_text())
    runtimes = _runtimes(md)
    assert [r["memory"] for r in runtimes["w.show"]] == ["3 GB", "3 GB"]
    assert [r["cpu"] for r in runtimes["w.show"]] == ["2", "2"]  # metadata shows strings
    assert runtimes["w.other"][0]["memory"] == "1 GB"  # another alias of the task: untouched
    assert _sub_runtime(md)["memory"] == "5 GB"
    assert "warnings" not in md  # standard from 1.1


def test_wdl_1_0_accepts_them_with_a_non_standard_warning(runner: Runner) -> None:
    inputs = {"w.other.runtime.memory": "2 GB", "w.other.n": 7}
    res = _run(runner, "1.0", inputs, "-m", "md.json")
    assert res.rc == 0, res.stderr
    md = json.loads((runner.workdir / "md.json").read_text())
    assert _runtimes(md)["w.other"][0]["memory"] == "2 GB"
    assert any(
        "'w.other.runtime.memory'" in w and "not standard in WDL 1.0" in w for w in md["warnings"]
    ), md.get("warnings")


def test_an_override_feeds_the_call_cache_hash(runner: Runner) -> None:
    runner.config_text = "call-caching { enabled = true }"
    assert _run(runner, "1.1", None).rc == 0
    again = _run(runner, "1.1", None, "-m", "again.json")
    hits = json.loads((runner.workdir / "again.json").read_text())["calls"]["w.other"][0]
    assert hits["callCaching"]["hit"] is True, again.stderr
    _run(runner, "1.1", {"w.other.runtime.continueOnReturnCode": True}, "-m", "changed.json")
    changed = json.loads((runner.workdir / "changed.json").read_text())["calls"]["w.other"][0]
    assert changed["callCaching"]["hit"] is False


def test_the_overrides_survive_a_resume(runner: Runner) -> None:
    from ironside.engine.submit import load_stored
    from ironside.store.db import open_store

    res = _run(runner, "1.1", {"w.other.runtime.memory": "4 GB"})
    assert res.rc == 0, res.stderr
    store = open_store(runner.db_url)
    try:
        sub, _ = load_stored(store, res.json["id"])
    finally:
        store.close()
    assert sub.runtime_overrides.for_call("other") == {"memory": "4 GB"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("w.nope.runtime.memory", "1 GB", "no call 'nope' to set a runtime attribute of"),
        ("w.i.runtime.memory", "1 GB", "calls: w.other.runtime.<attribute>, w.show.runtime"),
        ("w.show.runtime.memory", {"a": 1}, "must be a string, number, boolean or list"),
    ],
)
def test_a_bad_override_is_refused_naming_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(BadInputs, match=message) as err:
        build_submission(FLAT, "w.wdl", {key: value}, None, None, None)
    assert repr(key) in str(err.value)


def test_the_server_accepts_override_keys_and_refuses_unknown_calls() -> None:
    import WDL as miniwdl

    from ironside.server import wdl_check

    doc = miniwdl.parse_document(FLAT)
    doc.typecheck()
    assert doc.workflow is not None
    wdl_check.check_inputs(doc.workflow, {"w.show.runtime.memory": "2 GB"})
    with pytest.raises(BadInputs, match="no call 'nope'"):
        wdl_check.check_inputs(doc.workflow, {"w.nope.runtime.memory": "2 GB"})
