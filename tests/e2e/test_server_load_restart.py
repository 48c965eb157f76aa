"""``ironside server`` under load, and after a SIGKILL while workflows run."""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .server_proc import ServerProcess, wait_status, write_config

pytestmark = pytest.mark.slow

QUICK = """version 1.0
task echo { input { Int n } command <<< echo ~{n} >>> output { Int out = read_int(stdout()) } }
workflow quick { input { Int n } call echo { input: n = n } output { Int out = echo.out } }
"""

# each attempt appends one line (its pid) to <marks>/<n>-<i>; a second start would add a line
NAPPING = """version 1.0
task nap {
  input { String marks  Int n  Int i }
  command <<<
    echo $$ >> ~{marks}/~{n}-~{i}
    sleep 8
    echo done
  >>>
  output { String out = read_string(stdout()) }
}
workflow napping {
  input { String marks  Int n }
  scatter (i in range(2)) { call nap { input: marks = marks, n = n, i = i } }
  output { Array[String] outs = nap.out }
}
"""


def _submit(url: str, source: str, inputs: dict[str, object]) -> httpx.Response:
    files = {
        "workflowSource": ("w.wdl", source.encode()),
        "workflowInputs": ("i.json", json.dumps(inputs).encode()),
    }
    with httpx.Client(base_url=url, timeout=120) as c:
        return c.post("/api/workflows/v1", files=files)


def _workflow_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return list(
            conn.execute("SELECT id, status FROM ironside_workflow WHERE parent_id IS NULL")
        )


def test_100_submissions_from_10_threads(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, write_config(tmp_path))
    server.start()
    try:
        with ThreadPoolExecutor(10) as pool:
            answers = list(
                pool.map(lambda n: _submit(server.url, QUICK, {"quick.n": n}), range(100))
            )
        assert [r.status_code for r in answers] == [201] * 100, [r.text for r in answers[:3]]
        ids = {r.json()["id"] for r in answers}
        assert len(ids) == 100
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for wf in ids:
                assert wait_status(c, wf, {"Succeeded", "Failed", "Aborted"}, 300) == "Succeeded"
            outs = {
                c.get(f"/api/workflows/v1/{wf}/outputs").json()["outputs"]["quick.out"]
                for wf in ids
            }
            assert outs == set(range(100))
            q = c.get("/api/workflows/v1/query", params={"status": "Succeeded"}).json()
            assert q["totalResultsCount"] == 100
        rows = _workflow_rows(tmp_path / "ironside.sqlite")
        assert len(rows) == 100 and {r[0] for r in rows} == ids
    finally:
        server.stop()


def test_restart_after_sigkill_resumes_without_rerunning(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    # the job limit is the engine's, across workflows: room for all 10 tasks at once
    server = ServerProcess(tmp_path, write_config(tmp_path, job_limit=10))
    server.start()
    try:
        ids = []
        for n in range(5):
            r = _submit(server.url, NAPPING, {"napping.marks": str(marks), "napping.n": n})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        deadline = time.monotonic() + 60
        while len(list(marks.iterdir())) < 10 and time.monotonic() < deadline:
            time.sleep(0.1)  # every task of the 5 workflows has started
        assert len(list(marks.iterdir())) == 10, "not all tasks started"
        time.sleep(0.5)  # the scheduler's batched writes reach the store
        server.kill()
        statuses = [s for _, s in _workflow_rows(tmp_path / "ironside.sqlite")]
        assert statuses == ["Running"] * 5
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for wf in ids:
                assert wait_status(c, wf, {"Succeeded", "Failed", "Aborted"}, 300) == "Succeeded"
                outs = c.get(f"/api/workflows/v1/{wf}/outputs").json()["outputs"]
                assert outs["napping.outs"] == ["done", "done"]
        files = sorted(marks.iterdir())
        assert len(files) == 10
        for f in files:
            assert len(f.read_text().split()) == 1, f"{f.name} ran more than once"
    finally:
        server.stop()
