"""The database goes away mid-run and comes back: the engine waits, then finishes; no restart.

MariaDB (a private server the test starts, stops and starts again) and SQLite
(a second connection holding the write lock in bursts). While the database is
down a submission gets 503 and nothing is stored; ``/engine/v1/status`` says
the database is not ok (500), and that the engine is paused once the outage
outlasts ``system.store-patience``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from ironside.server.app import create_app
from ironside.server.engine_adapter import build_engine_port
from ironside.server.settings import ServerSettings
from tests.runtime.server.live import serve

from . import own_mariadb
from .crash_harness import SHARDS, World

pytestmark = pytest.mark.slow


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[own_mariadb.OwnMariaDB]:
    if not own_mariadb.available():
        pytest.skip("no mariadbd / mariadb-install-db on this machine")
    db = own_mariadb.OwnMariaDB(tmp_path)
    db.start()
    yield db
    db.stop()


PATIENCE = 30.0  # the 90 s outage outlasts it: the engine pauses, then goes on


def _config(world: World, url: str) -> str:
    text_ = world.config.read_text().replace(f"sqlite:///{world.db}", url)
    world.config.write_text(text_ + f"\nsystem.store-patience = {PATIENCE:.0f} seconds\n")
    return str(world.config)


def _submit(client: httpx.Client, world: World) -> httpx.Response:
    files = {
        "workflowSource": ("crash.wdl", (world.root / "crash.wdl").read_bytes()),
        "workflowInputs": ("i.json", (world.root / "inputs.json").read_bytes()),
        "workflowOptions": ("o.json", (world.root / "options.json").read_bytes()),
    }
    return client.post("/api/workflows/v1", files=files)


def _wait_succeeded(client: httpx.Client, wf_id: str, limit: float = 400) -> None:
    deadline = time.monotonic() + limit
    status = ""
    while time.monotonic() < deadline:
        answer = client.get(f"/api/workflows/v1/{wf_id}/status")
        status = answer.json().get("status", "") if answer.status_code == 200 else ""
        if status in ("Succeeded", "Failed", "Aborted"):
            break
        time.sleep(0.5)
    assert status == "Succeeded", status


@pytest.mark.parametrize("outage", [10.0, 90.0])
def test_mariadb_outage_mid_run(
    tmp_path: Path, mariadb: own_mariadb.OwnMariaDB, outage: float
) -> None:
    world = World(tmp_path)
    app = create_app(ServerSettings(), build_engine_port(_config(world, mariadb.url)))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        answer = _submit(client, world)
        assert answer.status_code == 201, answer.text
        wf_id = answer.json()["id"]
        while sum(world.side_lines().values()) < 40:
            time.sleep(0.05)
        mariadb.stop()
        during = _submit(client, world)
        assert during.status_code == 503, during.text
        health = client.get("/engine/v1/status")
        assert health.status_code == 500 and health.json()["ok"] is False
        time.sleep(outage)
        paused = "paused" in str(client.get("/engine/v1/status").json())
        assert paused == (outage > PATIENCE)
        mariadb.start()
        _wait_succeeded(client, wf_id)
        outputs = client.get(f"/api/workflows/v1/{wf_id}/outputs").json()["outputs"]
        assert client.get("/engine/v1/status").status_code == 200
        listed = client.get("/api/workflows/v1/query").json()["totalResultsCount"]
    assert outputs["crash.total"] == SHARDS
    assert listed == 1  # the submission refused during the outage left nothing
    lines = world.side_lines()
    assert sorted(lines) == list(range(SHARDS)) and set(lines.values()) == {1}


def test_sqlite_lock_storm(tmp_path: Path) -> None:
    """Another process's connection holds SQLite's write lock, again and again."""
    world = World(tmp_path)
    app = create_app(ServerSettings(), build_engine_port(str(world.config)))
    stop = threading.Event()

    def storm() -> None:
        holder = create_engine(f"sqlite:///{world.db}", connect_args={"timeout": 60})
        with holder.connect() as conn:
            while not stop.is_set():
                conn.execute(text("BEGIN IMMEDIATE"))
                time.sleep(1.5)  # every writer of the engine waits (busy timeout) or backs off
                conn.execute(text("COMMIT"))
                time.sleep(0.1)

    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        answer = _submit(client, world)
        assert answer.status_code == 201, answer.text
        wf_id = answer.json()["id"]
        locker = threading.Thread(target=storm, daemon=True)
        locker.start()
        try:
            _wait_succeeded(client, wf_id)
        finally:
            stop.set()
            locker.join(10)
        outputs = client.get(f"/api/workflows/v1/{wf_id}/outputs").json()["outputs"]
    assert outputs["crash.total"] == SHARDS
    lines = world.side_lines()
    assert sorted(lines) == list(range(SHARDS)) and set(lines.values()) == {1}
