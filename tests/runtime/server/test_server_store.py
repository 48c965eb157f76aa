"""The engine adapter on each store (SQLite; MySQL/MariaDB when configured), over real HTTP."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from ironside.server.app import create_app
from ironside.server.engine_adapter import build_engine_port
from ironside.server.settings import ServerSettings

from .conftest import HELLO
from .live import serve


def _config(tmp_path: Path, db_url: str) -> str:
    conf = tmp_path / "app.conf"
    conf.write_text(
        "backend { default = Local, providers { Local { config { "
        f'root = "{tmp_path}/ex" }} }} }} }}\n'
        f'database {{ url = "{db_url}" }}\n'
    )
    return str(conf)


def _submit(client: httpx.Client, name: str, **extra: str) -> httpx.Response:
    files = {
        "workflowSource": ("w.wdl", HELLO.encode()),
        "workflowInputs": ("i.json", json.dumps({"hello.name": name}).encode()),
        **{k: (k, v.encode()) for k, v in extra.items()},
    }
    return client.post("/api/workflows/v1", files=files)


def _wait(client: httpx.Client, wf: str) -> str:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = str(client.get(f"/api/workflows/v1/{wf}/status").json()["status"])
        if status in ("Succeeded", "Failed", "Aborted"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"{wf} did not finish")


def test_submit_run_query_and_restart(tmp_path: Path, db_url: str) -> None:
    config = _config(tmp_path, db_url)
    wanted = str(uuid.uuid4())
    app = create_app(ServerSettings(), build_engine_port(config, max_workflows=2))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda n: _submit(c, f"n{n}"), range(6)))
        assert [a.status_code for a in answers] == [201] * 6
        ids = [a.json()["id"] for a in answers]
        assert all(_wait(c, wf) == "Succeeded" for wf in ids)
        assert c.get(f"/api/workflows/v1/{ids[0]}/outputs").json()["outputs"] == {
            "hello.out": "hello n0"
        }
        held = _submit(c, "held", workflowOnHold="true", requestedWorkflowId=wanted)
        assert held.json() == {"id": wanted, "status": "On Hold"}
        assert _submit(c, "again", requestedWorkflowId=wanted).status_code == 409
        labels = c.patch(f"/api/workflows/v1/{wanted}/labels", json={"k": "v"}).json()
        assert labels["labels"]["k"] == "v"
        assert c.get("/api/workflows/v1/query").json()["totalResultsCount"] == 7
    # a new server over the same store still knows everything, the held one still held
    app2 = create_app(ServerSettings(), build_engine_port(config, max_workflows=2))
    with serve(app2) as url, httpx.Client(base_url=url, timeout=60) as c:
        q = c.get("/api/workflows/v1/query", params={"status": "Succeeded"}).json()
        assert q["totalResultsCount"] == 6
        assert c.get(f"/api/workflows/v1/{wanted}/status").json()["status"] == "On Hold"
        assert c.post(f"/api/workflows/v1/{wanted}/releaseHold").status_code == 200
        assert _wait(c, wanted) == "Succeeded"
        md = c.get(f"/api/workflows/v1/{wanted}/metadata").json()
        assert md["labels"]["k"] == "v" and md["calls"]["hello.say"][0]["executionStatus"] == "Done"


ONE_TASK = """version 1.0
task shout { input { String s } command <<< echo ~{s}! >>>
  output { String o = read_string(stdout()) } }
"""


def test_a_one_task_document_runs_its_task(tmp_path: Path, db_url: str) -> None:
    """As ``ironside run``: a document without a workflow runs its only task."""
    app = create_app(ServerSettings(), build_engine_port(_config(tmp_path, db_url)))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        files = {
            "workflowSource": ("t.wdl", ONE_TASK.encode()),
            "workflowInputs": ("i.json", b'{"shout.s": "hey"}'),
        }
        r = c.post("/api/workflows/v1", files=files)
        assert r.status_code == 201, r.text
        wf = r.json()["id"]
        assert _wait(c, wf) == "Succeeded"
        assert c.get(f"/api/workflows/v1/{wf}/outputs").json()["outputs"] == {"shout.o": "hey!"}
        md = c.get(f"/api/workflows/v1/{wf}/metadata").json()
        assert md["workflowName"] == "shout" and list(md["calls"]) == ["shout.shout"]


SLOW = """version 1.0
task nap { input { String marker } command <<< touch ~{marker}; sleep 60 >>> }
workflow slow { input { String marker } call nap { input: marker = marker } }
"""


def test_abort_running_and_queued(tmp_path: Path, db_url: str) -> None:
    config = _config(tmp_path, db_url)
    app = create_app(ServerSettings(), build_engine_port(config, max_workflows=1))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as c:

        def slow(marker: Path) -> str:
            files = {
                "workflowSource": ("w.wdl", SLOW.encode()),
                "workflowInputs": ("i.json", json.dumps({"slow.marker": str(marker)}).encode()),
            }
            return str(c.post("/api/workflows/v1", files=files).json()["id"])

        first, second = slow(tmp_path / "first"), slow(tmp_path / "second")
        import time

        deadline = time.monotonic() + 60
        while not (tmp_path / "first").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "first").exists()
        # one runner: the second waits in the queue
        assert c.post(f"/api/workflows/v1/{second}/abort").json()["status"] == "Aborted"
        assert c.post(f"/api/workflows/v1/{first}/abort").json()["status"] == "Aborting"
        assert _wait(c, first) == "Aborted"
        assert _wait(c, second) == "Aborted"
        time.sleep(0.5)
        assert not (tmp_path / "second").exists()  # never started
        assert c.post(f"/api/workflows/v1/{first}/abort").status_code == 403
