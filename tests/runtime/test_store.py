"""The store on SQLite and on MySQL/MariaDB: migrations, batched writes, a whole run."""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from ironside.metadata import workflow_metadata
from ironside.store import open_store
from ironside.store.db import HEAD_REVISION
from tests.runtime.conftest import Runner


def _wf_row(wf_id: str) -> dict[str, object]:
    return {
        "id": wf_id,
        "parent_id": None,
        "parent_call": None,
        "parent_shard": None,
        "name": "w",
        "status": "Submitted",
        "workflow_url": "/x.wdl",
        "source": "version 1.0",
        "imports_zip": b"zip",
        "inputs": "{}",
        "options": "{}",
        "backend": "Local",
        "root": "/r",
        "outputs": None,
        "failures": None,
        "submitted": time.time(),
        "started": None,
        "ended": None,
    }


def _call_row(wf_id: str, shard: int) -> dict[str, object]:
    return {
        "workflow_id": wf_id,
        "fqn": "w.t",
        "shard": shard,
        "attempt": 1,
        "status": "Running",
        "backend": "Local",
        "call_root": f"/r/call-t/shard-{shard}",
        "job_id": f"job-{shard}",
        "return_code": None,
        "inputs": "{}",
        "outputs": None,
        "runtime": "{}",
        "command": "echo",
        "failures": None,
        "sub_workflow_id": None,
        "cached": False,
        "started": 1.0,
        "ended": None,
    }


def test_migration_creates_schema_and_is_idempotent(db_url: str) -> None:
    """Alembic brings an empty database to head; opening again changes nothing."""
    store = open_store(db_url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"ironside_workflow", "ironside_call", "ironside_job", "alembic_version"} <= tables
    assert {"ironside_metadata_event", "ironside_label"} <= tables
    store.close()
    again = open_store(db_url)
    with again.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == HEAD_REVISION
    again.close()


def test_batched_writes_one_flush(db_url: str) -> None:
    """Many queued inserts and ordered updates reach the database in one flush."""
    store = open_store(db_url)
    store.create_workflow(_wf_row("wf-1"), {"project": "p1"})
    for shard in range(500):
        store.add_call(_call_row("wf-1", shard))
    for shard in range(500):
        store.update_call(("wf-1", "w.t", shard, 1), status="Done", return_code=0)
    store.update_call(("wf-1", "w.t", 7, 1), status="Failed")  # later update wins
    store.add_event("wf-1", "status", "Running")
    assert store.calls("wf-1") == []  # nothing before the flush
    store.flush()
    calls = store.calls("wf-1")
    assert len(calls) == 500
    assert {c["status"] for c in calls if c["shard"] != 7} == {"Done"}
    assert next(c for c in calls if c["shard"] == 7)["status"] == "Failed"
    store.ensure_call(_call_row("wf-1", 3))  # exists: ignored
    store.ensure_call(_call_row("wf-1", 900))  # absent: inserted
    store.flush()
    assert len(store.calls("wf-1")) == 501
    assert store.labels("wf-1") == {"project": "p1"}
    assert store.workflow("wf-1")["imports_zip"] == b"zip"
    assert [e["value"] for e in store.events("wf-1")] == ["Running"]
    store.close()


def test_whole_run_on_this_database(runner: Runner, db_url: str) -> None:
    """A scatter workflow stored in this database; metadata read back from it."""
    runner.db_url = db_url
    wdl = """version 1.0
task sq { input { Int x } command <<< echo $(( ~{x} * ~{x} )) >>>
          output { Int y = read_int(stdout()) } }
workflow w {
  scatter (x in range(5)) { call sq { input: x = x } }
  output { Array[Int] ys = sq.y }
}
"""
    res = runner.run(wdl, labels={"team": "genomics"})
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.ys": [0, 1, 4, 9, 16]}
    store = open_store(db_url)
    md = workflow_metadata(store, res.json["id"])
    assert md["status"] == "Succeeded"
    assert md["labels"]["team"] == "genomics"
    assert len(md["calls"]["w.sq"]) == 5
    assert json.loads(md["submittedFiles"]["labels"]) == {"team": "genomics"}
    jobs = store.jobs(res.json["id"])
    assert len(jobs) == 5
    assert all(
        j["backend"] == "Local" and j["job_id"].endswith("/execution") for j in jobs.values()
    )
    for job in jobs.values():  # the pid the task script wrote is the one stored
        assert job["pid"] == int((Path(job["job_id"]) / "pid").read_text())
    store.close()


def _upgrade_to(engine: Engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("ironside.store") / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


PRECISE = 1795000000.123456


def test_times_keep_sub_millisecond_precision(db_url: str) -> None:
    """Epoch seconds round-trip within 1 ms (MySQL's single-precision FLOAT lost minutes)."""
    store = open_store(db_url)
    row = _wf_row("wf-t") | {"submitted": PRECISE, "started": PRECISE + 1, "ended": PRECISE + 2}
    store.create_workflow(row)
    store.add_call(_call_row("wf-t", 0) | {"started": PRECISE, "ended": PRECISE + 3})
    store.add_event("wf-t", "status", "Running", ts=PRECISE)
    store.flush()
    wf = store.workflow("wf-t")
    assert abs(wf["submitted"] - PRECISE) < 1e-3
    assert abs(wf["started"] - (PRECISE + 1)) < 1e-3
    assert abs(wf["ended"] - (PRECISE + 2)) < 1e-3
    (call,) = store.calls("wf-t")
    assert abs(call["started"] - PRECISE) < 1e-3
    assert abs(call["ended"] - (PRECISE + 3)) < 1e-3
    (event,) = store.events("wf-t")
    assert abs(event["ts"] - PRECISE) < 1e-3
    store.close()


def test_upgrade_from_0002_keeps_rows_and_widens_times(db_url: str) -> None:
    """A database at revision 0002 opens at head; its rows survive and new times are precise."""
    from ironside.store.db import make_engine

    engine = make_engine(db_url)
    _upgrade_to(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ironside_workflow (id, name, status, workflow_url, source, inputs,"
                " options, backend, root, submitted) VALUES ('wf-old', 'w', 'Succeeded', '/x.wdl',"
                " 'version 1.0', '{}', '{}', 'Local', '/r', 1700000000)"
            )
        )
    engine.dispose()
    store = open_store(db_url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
    assert HEAD_REVISION == "0003"
    assert store.workflow("wf-old")["submitted"] == 1700000000
    if store.engine.dialect.name == "mysql":
        columns = {c["name"]: c for c in inspect(store.engine).get_columns("ironside_workflow")}
        assert "DOUBLE" in str(columns["submitted"]["type"]).upper()
        assert columns["submitted"]["nullable"] is False
        assert columns["ended"]["nullable"] is True
    store.update_workflow("wf-old", ended=PRECISE)
    store.flush()
    assert abs(store.workflow("wf-old")["ended"] - PRECISE) < 1e-3
    store.close()
