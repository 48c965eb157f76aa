"""Plain HTTP against ``ironside server`` running the real engine: every endpoint once more."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .server_proc import ServerProcess, wait_status, write_config

pytestmark = pytest.mark.slow

MAIN = """version 1.0
import "sub/inner.wdl" as inner
workflow outer {
  input { Int n = 2 }
  scatter (i in range(n)) { call inner.inner as sub { input: x = i } }
  output { Array[Int] doubled = sub.doubled }
}
"""
INNER = """version 1.0
task double {
  input { Int x }
  command <<< echo $((~{x} * 2)) >>>
  output { Int y = read_int(stdout()) }
}
workflow inner {
  input { Int x }
  call double { input: x = x }
  output { Int doubled = double.y }
}
"""
HELLO = """version 1.0
task say {
  input { String who }
  command <<< echo "hi ~{who}" >>>
  output { String s = read_string(stdout()) }
}
workflow hello { input { String who } call say { input: who = who } output { String s = say.s } }
"""


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("sub/inner.wdl", INNER)
    return buf.getvalue()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("http-server")
    server = ServerProcess(root, write_config(root))
    server.start()
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c
    server.stop()


def _post(c: httpx.Client, source: str, inputs: object, **extra: bytes | str) -> httpx.Response:
    files = {
        "workflowSource": ("w.wdl", source.encode()),
        "workflowInputs": ("i.json", json.dumps(inputs).encode()),
    }
    for k, v in extra.items():
        files[k] = (k, v.encode() if isinstance(v, str) else v)
    return c.post("/api/workflows/v1", files=files)


def test_sub_workflows_from_a_dependencies_zip(client: httpx.Client) -> None:
    r = _post(client, MAIN, {"outer.n": 3}, workflowDependencies=_zip())
    assert r.status_code == 201, r.text
    wf = r.json()["id"]
    assert wait_status(client, wf, {"Succeeded", "Failed"}) == "Succeeded"
    assert client.get(f"/api/workflows/v1/{wf}/outputs").json()["outputs"] == {
        "outer.doubled": [0, 2, 4]
    }
    md = client.get(f"/api/workflows/v1/{wf}/metadata").json()
    shards = md["calls"]["outer.sub"]
    assert len(shards) == 3 and all("subWorkflowId" in s for s in shards)
    assert all("subWorkflowMetadata" not in s for s in shards)
    deep = client.get(
        f"/api/workflows/v1/{wf}/metadata", params={"expandSubWorkflows": "true"}
    ).json()
    inner = deep["calls"]["outer.sub"][1]["subWorkflowMetadata"]
    assert inner["calls"]["inner.double"][0]["outputs"] == {"y": 2}
    subs = client.get(
        "/api/workflows/v1/query",
        params={"name": "inner", "additionalQueryResultFields": "parentWorkflowId"},
    ).json()
    assert subs["totalResultsCount"] == 3
    assert {s["parentWorkflowId"] for s in subs["results"]} == {wf}
    top = client.get(
        "/api/workflows/v1/query", params={"id": wf, "includeSubworkflows": "false"}
    ).json()
    assert [t["id"] for t in top["results"]] == [wf]
    if os.path.exists("/usr/bin/chromium"):
        _check_timing(client, wf, expected_bars=3 + 3)  # 3 sub-workflow calls + 3 tasks


BUNDLE_DEFAULT = """version 1.0
task show {
  input { File g }
  command <<< cat ~{g} >>>
  output { String seen = read_string(stdout()) }
}
workflow w {
  input { File f = "%s" }
  call show { input: g = f }
  output { String text = read_string(f)  String task_text = show.seen }
}
"""


def _bundle(**files: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_a_relative_file_default_resolves_in_the_submitted_bundle(client: httpx.Client) -> None:
    deps = _bundle(**{"data/x.txt": "from the bundle\n"})
    r = _post(client, BUNDLE_DEFAULT % "data/x.txt", {}, workflowDependencies=deps)
    assert r.status_code == 201, r.text
    wf = r.json()["id"]
    status = wait_status(client, wf, {"Succeeded", "Failed"})
    failures = client.get(f"/api/workflows/v1/{wf}/metadata").json().get("failures")
    assert status == "Succeeded", failures
    outputs = client.get(f"/api/workflows/v1/{wf}/outputs").json()["outputs"]
    assert outputs == {"w.text": "from the bundle", "w.task_text": "from the bundle"}


def test_a_relative_file_default_cannot_climb_out_of_the_bundle(client: httpx.Client) -> None:
    deps = _bundle(**{"data/x.txt": "from the bundle\n"})
    r = _post(client, BUNDLE_DEFAULT % "../../../../etc/hostname", {}, workflowDependencies=deps)
    assert r.status_code == 201, r.text
    wf = r.json()["id"]
    assert wait_status(client, wf, {"Succeeded", "Failed"}) == "Failed"
    failures = json.dumps(client.get(f"/api/workflows/v1/{wf}/metadata").json()["failures"])
    assert "etc/hostname is outside the files this workflow may read" in failures


def _check_timing(client: httpx.Client, wf: str, expected_bars: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.runtime.server.conftest import CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        url = str(client.base_url).rstrip("/") + f"/api/workflows/v1/{wf}/timing"
        page.goto(url, timeout=60_000)
        page.wait_for_selector("rect.bar", state="attached", timeout=60_000)
        assert page.locator("rect.bar").count() == expected_bars
        assert page.locator("rect.bar[data-status='Done']").count() == expected_bars
        browser.close()


def test_hold_release_labels_and_abort_rules(client: httpx.Client) -> None:
    r = _post(client, HELLO, {"hello.who": "held"}, workflowOnHold="true", labels='{"team": "x"}')
    assert r.status_code == 201 and r.json()["status"] == "On Hold"
    wf = r.json()["id"]
    assert client.get(f"/api/workflows/v1/{wf}/status").json()["status"] == "On Hold"
    labels = client.patch(f"/api/workflows/v1/{wf}/labels", json={"run": "1"}).json()["labels"]
    assert labels["team"] == "x" and labels["run"] == "1"
    assert client.post(f"/api/workflows/v1/{wf}/releaseHold").json()["status"] == "Submitted"
    assert wait_status(client, wf, {"Succeeded", "Failed"}) == "Succeeded"
    assert client.post(f"/api/workflows/v1/{wf}/releaseHold").status_code == 403
    abort = client.post(f"/api/workflows/v1/{wf}/abort")
    assert abort.status_code == 403 and abort.json()["status"] == "fail"
    found = client.get("/api/workflows/v1/query", params={"label": "run:1"}).json()
    assert [f["id"] for f in found["results"]] == [wf]
    held = _post(client, HELLO, {"hello.who": "never"}, workflowOnHold="true").json()["id"]
    assert client.post(f"/api/workflows/v1/{held}/abort").json() == {
        "id": held,
        "status": "Aborted",
    }


def test_batch_and_requested_id(client: httpx.Client) -> None:
    files = {
        "workflowSource": ("w.wdl", HELLO.encode()),
        "workflowInputs": ("i.json", json.dumps([{"hello.who": w} for w in "abc"]).encode()),
    }
    r = client.post("/api/workflows/v1/batch", files=files)
    assert r.status_code == 201, r.text
    ids = [a["id"] for a in r.json()]
    outs = []
    for wf in ids:
        assert wait_status(client, wf, {"Succeeded", "Failed"}) == "Succeeded"
        outs.append(client.get(f"/api/workflows/v1/{wf}/outputs").json()["outputs"]["hello.s"])
    assert outs == ["hi a", "hi b", "hi c"]
    taken = _post(client, HELLO, {"hello.who": "x"}, requestedWorkflowId=ids[0])
    assert taken.status_code == 409 and taken.json()["status"] == "fail"


@pytest.mark.parametrize(
    ("source", "inputs", "needle"),
    [
        (HELLO, {}, "hello.who"),
        (HELLO, {"hello.who": "x", "hello.nope": 1}, "hello.nope"),
        (HELLO, {"hello.who": [3]}, "hello.who"),
        ("version 1.0\nworkflow w {\n  call nowhere\n}\n", {}, ":3:"),
        (MAIN, {}, "sub/inner.wdl"),  # the import needs the dependencies zip
    ],
)
def test_bad_submissions_store_nothing(
    client: httpx.Client, source: str, inputs: object, needle: str
) -> None:
    before = client.get("/api/workflows/v1/query").json()["totalResultsCount"]
    r = _post(client, source, inputs)
    assert r.status_code == 400 and r.json()["status"] == "fail"
    assert needle in r.json()["message"]
    assert client.get("/api/workflows/v1/query").json()["totalResultsCount"] == before


def test_unknown_ids_and_engine_endpoints(client: httpx.Client) -> None:
    unknown = "11111111-2222-4333-8444-555555555555"
    for path in ("status", "metadata", "outputs", "logs", "labels", "timing"):
        r = client.get(f"/api/workflows/v1/{unknown}/{path}")
        assert r.status_code == 404 and r.json()["status"] == "fail", path
    assert client.post(f"/api/workflows/v1/{unknown}/abort").status_code == 404
    assert client.get("/api/workflows/v1/backends").json() == {
        "supportedBackends": ["Local"],
        "defaultBackend": "Local",
    }
    health = client.get("/engine/v1/status").json()
    assert health["ok"] is True and health["systems"]["Engine Database"]["ok"] is True
    assert "cromwell" in client.get("/engine/v1/version").json()
    desc = client.post(
        "/api/womtool/v1/describe", files={"workflowSource": ("w", HELLO.encode())}
    ).json()
    assert desc["valid"] and desc["name"] == "hello"


def test_logs_point_at_real_files(client: httpx.Client) -> None:
    wf = _post(client, HELLO, {"hello.who": "logs"}).json()["id"]
    assert wait_status(client, wf, {"Succeeded", "Failed"}) == "Succeeded"
    logs = client.get(f"/api/workflows/v1/{wf}/logs").json()
    (attempt,) = logs["calls"]["hello.say"]
    assert Path(attempt["stdout"]).read_text() == "hi logs\n"
    assert Path(attempt["stderr"]).exists()
