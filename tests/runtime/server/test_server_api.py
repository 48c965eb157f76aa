"""Every read/change endpoint over real HTTP, with Cromwell's shapes and error statuses."""

from __future__ import annotations

import uuid

import pytest

from .conftest import HELLO, Live, submit

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _submitted(live: Live, **fields: str) -> str:
    r = submit(live.client, **fields)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_status_outputs_logs(live: Live) -> None:
    wf = _submitted(live)
    assert live.client.get(f"/api/workflows/v1/{wf}/status").json() == {
        "id": wf,
        "status": "Succeeded",
    }
    assert live.client.get(f"/api/workflows/v1/{wf}/outputs").json() == {
        "id": wf,
        "outputs": {"hello.out": "hello"},
    }
    logs = live.client.get(f"/api/workflows/v1/{wf}/logs").json()
    assert logs["id"] == wf
    (attempt,) = logs["calls"]["hello.t"]
    assert attempt["stdout"].endswith("/stdout") and attempt["stderr"].endswith("/stderr")
    assert (attempt["shardIndex"], attempt["attempt"]) == (-1, 1)


@pytest.mark.parametrize("path", ["status", "outputs", "logs", "metadata", "labels", "timing"])
def test_unknown_id_is_404_and_bad_id_is_400(live: Live, path: str) -> None:
    r = live.client.get(f"/api/workflows/v1/{UNKNOWN}/{path}")
    assert r.status_code == 404
    assert r.json()["status"] == "fail" and UNKNOWN in r.json()["message"]
    bad = live.client.get(f"/api/workflows/v1/not-a-uuid/{path}")
    assert bad.status_code == 400
    assert "Invalid workflow ID" in bad.json()["message"]


def test_metadata_include_and_exclude_keys(live: Live) -> None:
    wf = _submitted(live)
    full = live.client.get(f"/api/workflows/v1/{wf}/metadata").json()
    assert {"id", "status", "calls", "outputs", "submittedFiles"} <= set(full)
    inc = live.client.get(
        f"/api/workflows/v1/{wf}/metadata",
        params=[("includeKey", "status"), ("includeKey", "executionStatus")],
    ).json()
    assert set(inc) == {"id", "status", "calls"}
    assert inc["calls"]["hello.t"] == [{"executionStatus": "Done", "shardIndex": -1, "attempt": 1}]
    exc = live.client.get(
        f"/api/workflows/v1/{wf}/metadata",
        params=[("excludeKey", "submittedFiles"), ("excludeKey", "stdout")],
    ).json()
    assert "submittedFiles" not in exc and "outputs" in exc
    assert "stdout" not in exc["calls"]["hello.t"][0] and "stderr" in exc["calls"]["hello.t"][0]


def test_metadata_expands_sub_workflows_only_when_asked(live: Live) -> None:
    engine = live.engine
    wf = _submitted(live)
    child = engine.add_child(wf, "inner")
    grandchild = engine.add_child(child, "innermost")
    engine.custom_metadata[grandchild] = {"id": grandchild, "status": "Succeeded", "calls": {}}
    engine.custom_metadata[child] = {
        "id": child,
        "status": "Succeeded",
        "calls": {"inner.sub": [{"shardIndex": -1, "attempt": 1, "subWorkflowId": grandchild}]},
    }
    engine.custom_metadata[wf] = {
        "id": wf,
        "status": "Succeeded",
        "calls": {
            "hello.inner": [
                {"shardIndex": i, "attempt": 1, "executionStatus": "Done", "subWorkflowId": child}
                for i in range(2)
            ]
        },
    }
    url = f"/api/workflows/v1/{wf}/metadata"
    flat = live.client.get(url).json()
    assert "subWorkflowMetadata" not in flat["calls"]["hello.inner"][0]
    deep = live.client.get(url, params={"expandSubWorkflows": "true"}).json()
    sub = deep["calls"]["hello.inner"][1]["subWorkflowMetadata"]
    assert sub["id"] == child
    assert sub["calls"]["inner.sub"][0]["subWorkflowMetadata"]["id"] == grandchild
    slim = live.client.get(
        url,
        params=[
            ("includeKey", "executionStatus"),
            ("includeKey", "subWorkflowMetadata"),
            ("expandSubWorkflows", "true"),
        ],
    ).json()
    entry = slim["calls"]["hello.inner"][0]
    assert set(entry) == {"executionStatus", "shardIndex", "attempt", "subWorkflowMetadata"}
    assert set(entry["subWorkflowMetadata"]) == {"id", "calls"}


def test_secret_options_are_not_in_metadata(live: Live) -> None:
    wf = _submitted(
        live,
        workflowOptions='{"aws_secret_access_key": "S3CR3T", "refresh_token": "T0K", '
        '"final_workflow_outputs_dir": "/out"}',
    )
    text = live.client.get(f"/api/workflows/v1/{wf}/metadata").text
    assert "S3CR3T" not in text and "T0K" not in text
    assert "/out" in text


def test_labels_get_and_patch(live: Live) -> None:
    wf = _submitted(live, labels='{"team": "genomics"}')
    url = f"/api/workflows/v1/{wf}/labels"
    assert live.client.get(url).json() == {"id": wf, "labels": {"team": "genomics"}}
    r = live.client.patch(url, json={"team": "bio", "run": "7"})
    assert r.status_code == 200
    assert r.json() == {"id": wf, "labels": {"team": "bio", "run": "7"}}
    assert live.client.patch(url, json={"x": 1}).status_code == 400
    assert live.client.patch(url, json=["x"]).status_code == 400
    assert live.client.patch(url, content=b"{nope").status_code == 400
    assert (
        live.client.patch(f"/api/workflows/v1/{UNKNOWN}/labels", json={"a": "b"}).status_code == 404
    )


def test_abort_hold_and_release(live: Live) -> None:
    held = _submitted(live, workflowOnHold="true")
    assert live.client.get(f"/api/workflows/v1/{held}/status").json()["status"] == "On Hold"
    r = live.client.post(f"/api/workflows/v1/{held}/releaseHold")
    assert r.status_code == 200 and r.json() == {"id": held, "status": "Submitted"}
    again = live.client.post(f"/api/workflows/v1/{held}/releaseHold")
    assert again.status_code == 403 and again.json()["status"] == "fail"
    done = live.client.post(f"/api/workflows/v1/{held}/abort")
    assert done.status_code == 403
    assert "terminal" in done.json()["message"]
    live.engine.auto = False
    queued = _submitted(live)
    r = live.client.post(f"/api/workflows/v1/{queued}/abort")
    assert r.status_code == 200 and r.json() == {"id": queued, "status": "Aborted"}
    assert live.client.post(f"/api/workflows/v1/{UNKNOWN}/abort").status_code == 404


def test_backends_version_engine_status_and_docs(live: Live) -> None:
    assert live.client.get("/api/workflows/v1/backends").json() == {
        "supportedBackends": ["Local"],
        "defaultBackend": "Local",
    }
    assert live.client.get("/engine/v1/version").json()["cromwell"].startswith("ironside-")
    status = live.client.get("/engine/v1/status")
    assert status.status_code == 200 and status.json()["ok"] is True
    assert "swagger" in live.client.get("/docs").text.lower()
    paths = live.client.get("/openapi.json").json()["paths"]
    assert "/api/workflows/v1/{workflow_id}/metadata" in paths
    form = paths["/api/workflows/v1"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert {"workflowSource", "workflowInputs_5", "requestedWorkflowId"} <= set(
        form["schema"]["properties"]
    )


def test_query_get_and_post(live: Live) -> None:
    a = _submitted(live, labels='{"project": "a", "tier": "x"}')
    b = _submitted(live, labels='{"project": "b"}')
    live.engine.auto = False
    c = _submitted(live, labels='{"project": "a"}')
    q = "/api/workflows/v1/query"
    every = live.client.get(q).json()
    assert every["totalResultsCount"] == 3
    assert [r["id"] for r in every["results"]] == [c, b, a]  # newest first
    assert set(every["results"][0]) >= {"id", "name", "status", "submission"}
    done = live.client.get(q, params={"status": "Succeeded"}).json()
    assert {r["id"] for r in done["results"]} == {a, b}
    both = live.client.get(q, params=[("status", "Succeeded"), ("status", "Submitted")]).json()
    assert both["totalResultsCount"] == 3
    assert live.client.get(q, params={"label": "project:a"}).json()["totalResultsCount"] == 2
    anded = live.client.get(q, params=[("label", "project:a"), ("label", "tier:x")]).json()
    assert [r["id"] for r in anded["results"]] == [a]
    ored = live.client.get(q, params=[("labelor", "project:b"), ("labelor", "tier:x")]).json()
    assert {r["id"] for r in ored["results"]} == {a, b}
    assert live.client.get(q, params={"id": b}).json()["results"][0]["id"] == b
    assert live.client.get(q, params={"name": "nope"}).json()["totalResultsCount"] == 0
    page = live.client.get(q, params={"pageSize": "2", "page": "2"}).json()
    assert page["totalResultsCount"] == 3 and [r["id"] for r in page["results"]] == [a]
    with_labels = live.client.get(q, params={"additionalQueryResultFields": "labels", "id": a})
    assert with_labels.json()["results"][0]["labels"] == {"project": "a", "tier": "x"}
    posted = live.client.post(q, json=[{"status": "Succeeded"}, {"label": "project:b"}]).json()
    assert [r["id"] for r in posted["results"]] == [b]
    future = live.client.get(q, params={"submission": "2999-01-01T00:00:00Z"}).json()
    assert future["totalResultsCount"] == 0


def test_query_includes_sub_workflows_unless_told_not_to(live: Live) -> None:
    wf = _submitted(live)
    child = live.engine.add_child(wf, "inner")
    q = "/api/workflows/v1/query"
    ids = {r["id"] for r in live.client.get(q).json()["results"]}
    assert ids == {wf, child}
    top = live.client.get(q, params={"includeSubworkflows": "false"}).json()
    assert [r["id"] for r in top["results"]] == [wf]
    extra = live.client.get(
        q, params={"id": child, "additionalQueryResultFields": "parentWorkflowId"}
    ).json()
    assert extra["results"][0]["parentWorkflowId"] == wf
    assert extra["results"][0]["rootWorkflowId"] == wf


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"bogus": "1"}, "Unrecognized query keys: bogus"),
        ({"status": "Sleeping"}, "Unrecognized status values: Sleeping"),
        ({"id": "nope"}, "not a UUID"),
        ({"label": "novalue"}, "key:value"),
        ({"start": "yesterday"}, "ISO 8601"),
        ({"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "after"),
        ({"page": "0"}, "at least 1"),
        ({"pageSize": "x"}, "integer"),
        ({"includeSubworkflows": "maybe"}, "true or false"),
        ({"additionalQueryResultFields": "everything"}, "additionalQueryResultFields"),
    ],
)
def test_bad_queries_are_400(live: Live, params: dict[str, str], needle: str) -> None:
    r = live.client.get("/api/workflows/v1/query", params=params)
    assert r.status_code == 400
    assert r.json()["status"] == "fail" and needle in r.json()["message"]


def test_bad_query_bodies_are_400(live: Live) -> None:
    q = "/api/workflows/v1/query"
    assert live.client.post(q, json={"status": "Running"}).status_code == 400
    assert live.client.post(q, json=[{"status": "Running", "name": "x"}]).status_code == 400
    assert live.client.post(q, content=b"[{").status_code == 400
    assert live.client.post(q, json=[{"what": "x"}]).status_code == 400


def test_describe(live: Live) -> None:
    url = "/api/womtool/v1/describe"
    ok = live.client.post(url, files={"workflowSource": ("w", HELLO.encode())}).json()
    assert ok["valid"] is True and ok["validWorkflow"] is True and ok["isRunnableWorkflow"]
    assert ok["name"] == "hello" and ok["errors"] == []
    by_name = {i["name"]: i for i in ok["inputs"]}
    assert by_name["name"]["valueType"] == {"typeName": "String"}
    assert by_name["name"]["optional"] is False
    assert by_name["say.greeting"]["optional"] is True
    assert ok["outputs"] == [
        {"name": "out", "valueType": {"typeName": "String"}, "typeDisplayName": "String"}
    ]
    assert ok["submittedDescriptorType"] == {
        "descriptorType": "WDL",
        "descriptorTypeVersion": "1.0",
    }
    bad_inputs = live.client.post(
        url,
        files={"workflowSource": ("w", HELLO.encode()), "workflowInputs": ("i", b'{"x.y": 1}')},
    ).json()
    assert bad_inputs["valid"] is False and bad_inputs["validWorkflow"] is True
    assert bad_inputs["errors"]
    broken = live.client.post(
        url, files={"workflowSource": ("w", b"version 1.0\nworkflow w {\n  call nope\n}")}
    ).json()
    assert broken["valid"] is False and broken["isRunnableWorkflow"] is False
    assert broken["errors"][0].startswith("workflow.wdl:3:")
    tasks_only = live.client.post(
        url,
        files={
            "workflowSource": ("w", b"version 1.0\ntask a { command {} }\ntask b { command {} }")
        },
    ).json()
    assert tasks_only["validWorkflow"] is True and tasks_only["isRunnableWorkflow"] is False
    missing = live.client.post(url, files={"workflowInputs": ("i", b"{}")})
    assert missing.status_code == 400


def test_engine_started_and_stopped_with_the_app() -> None:
    from ironside.server.settings import ServerSettings

    from .conftest import start
    from .fake_engine import FakeEngine

    engine = FakeEngine()
    for live in start(ServerSettings(), engine):
        assert engine.started and not engine.stopped
        assert uuid.UUID(_submitted(live))
    assert engine.stopped


def test_finished_metadata_is_cached_until_labels_change(live: Live) -> None:
    wf = _submitted(live, labels='{"a": "1"}')
    url = f"/api/workflows/v1/{wf}/metadata"
    first = live.client.get(url).json()
    assert first["labels"] == {"a": "1"}
    live.engine.custom_metadata[wf] = {"id": wf, "status": "Succeeded", "changed": True}
    assert live.client.get(url).json() == first  # finished: served from the cache
    assert live.client.patch(f"/api/workflows/v1/{wf}/labels", json={"b": "2"}).status_code == 200
    assert live.client.get(url).json() == {"id": wf, "status": "Succeeded", "changed": True}


def test_running_metadata_is_never_cached(live: Live) -> None:
    live.engine.auto = False
    wf = _submitted(live)
    url = f"/api/workflows/v1/{wf}/metadata"
    assert live.client.get(url).json()["status"] == "Submitted"
    live.engine.rows[wf]["status"] = "Running"
    assert live.client.get(url).json()["status"] == "Running"


def test_failed_jobs_lists_only_failed_attempts(live: Live) -> None:
    wf = _submitted(live)
    child = live.engine.add_child(wf, "inner")
    live.engine.custom_metadata[child] = {
        "id": child,
        "calls": {"inner.x": [{"shardIndex": -1, "attempt": 1, "executionStatus": "Failed"}]},
    }
    live.engine.custom_metadata[wf] = {
        "id": wf,
        "status": "Failed",
        "calls": {
            "hello.t": [
                {"shardIndex": 0, "attempt": 1, "executionStatus": "Done"},
                {"shardIndex": 1, "attempt": 1, "executionStatus": "Failed", "failures": ["x"]},
            ],
            "hello.ok": [{"shardIndex": -1, "attempt": 1, "executionStatus": "Done"}],
            "hello.inner": [{"shardIndex": -1, "attempt": 1, "subWorkflowId": child}],
        },
    }
    body = live.client.get(f"/api/workflows/v1/{wf}/metadata/failed-jobs").json()
    assert body["id"] == wf
    assert set(body["calls"]) == {"hello.t", "hello.inner"}
    assert [e["shardIndex"] for e in body["calls"]["hello.t"]] == [1]
    inner = body["calls"]["hello.inner"][0]["subWorkflowMetadata"]
    assert inner["calls"]["inner.x"][0]["executionStatus"] == "Failed"
