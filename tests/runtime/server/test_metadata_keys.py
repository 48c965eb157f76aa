"""includeKey/excludeKey as Cromwell matches them: prefix, nested a:b, exclusion, expansion."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Live, submit

CALL = {
    "shardIndex": -1,
    "attempt": 1,
    "executionStatus": "Done",
    "executionEvents": [{"description": "RunningJob"}],
    "runtimeAttributes": {"docker": "ubuntu", "cpu": "1"},
    "stdout": "/x/stdout",
    "subWorkflowId": "SUB",
}


def _setup(live: Live) -> tuple[str, str]:
    wf = submit(live.client).json()["id"]
    child = live.engine.add_child(wf, "inner")
    live.engine.custom_metadata[child] = {
        "id": child,
        "status": "Succeeded",
        "workflowName": "inner",
        "calls": {},
    }
    live.engine.custom_metadata[wf] = {
        "id": wf,
        "status": "Succeeded",
        "submittedFiles": {"workflow": "w", "inputs": "{}"},
        "calls": {"hello.inner": [dict(CALL, subWorkflowId=child)]},
    }
    return wf, child


def _get(live: Live, wf: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    r = live.client.get(f"/api/workflows/v1/{wf}/metadata", params=tuple(params))
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize(
    ("params", "top", "call"),
    [
        ([("includeKey", "exec")], {"id", "calls"}, {"executionStatus", "executionEvents"}),
        ([("includeKey", "status")], {"id", "status", "calls"}, set()),
        (
            [("includeKey", "runtimeAttributes:docker")],
            {"id", "calls"},
            {"runtimeAttributes"},
        ),
        ([("includeKey", "submittedFiles:inputs")], {"id", "submittedFiles", "calls"}, set()),
        (
            [("excludeKey", "runtimeAttributes:docker"), ("excludeKey", "exec")],
            {"id", "status", "submittedFiles", "calls"},
            {"runtimeAttributes", "stdout", "subWorkflowId"},
        ),
    ],
)
def test_include_and_exclude_table(
    live: Live, params: list[tuple[str, str]], top: set[str], call: set[str]
) -> None:
    wf, _ = _setup(live)
    md = _get(live, wf, params)
    assert set(md) == top
    entry = md["calls"]["hello.inner"][0]
    assert set(entry) == call | {"shardIndex", "attempt"}
    if "runtimeAttributes" in entry:
        wanted = {"docker"} if params[0][0] == "includeKey" else {"cpu"}
        assert set(entry["runtimeAttributes"]) == wanted
    if "submittedFiles" in md and params[0][0] == "includeKey":
        assert md["submittedFiles"] == {"inputs": "{}"}


def test_a_surviving_sub_workflow_id_is_expanded(live: Live) -> None:
    wf, child = _setup(live)
    params = [("includeKey", "subWorkflowId"), ("includeKey", "status")]
    md = _get(live, wf, [*params, ("expandSubWorkflows", "true")])
    entry = md["calls"]["hello.inner"][0]
    assert entry["subWorkflowId"] == child
    assert entry["subWorkflowMetadata"] == {"id": child, "status": "Succeeded", "calls": {}}
    assert "subWorkflowMetadata" not in _get(live, wf, params)["calls"]["hello.inner"][0]
    gone = _get(live, wf, [("excludeKey", "subWorkflow"), ("expandSubWorkflows", "true")])
    assert set(gone["calls"]["hello.inner"][0]) & {"subWorkflowId", "subWorkflowMetadata"} == set()
