"""Many workflows at once through the real server: every output of every workflow is its own.

Each workflow gets its own ``k``; an upstream call writes ``k`` to a file, a
100-shard scatter reads it and derives ``k * 1000 + i``, the workflow returns
the values and the shards' files. Everything is checked, on SQLite and on
MariaDB, repeated, with and without call caching. The job-limit test checks,
from the task processes' own start and end times, that the configured
``concurrent-job-limit`` holds across workflows.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from ironside.server.app import create_app
from ironside.server.engine_adapter import build_engine_port
from ironside.server.settings import ServerSettings

from .live import serve

pytestmark = pytest.mark.slow

SHARDS = 100
FAN_OUT = f"""version 1.0
task make {{
  input {{ Int k }}
  command <<< echo ~{{k}} > base.txt >>>
  output {{ File base = "base.txt" }}
}}
task shard {{
  input {{ File base  Int i }}
  command <<< echo $(( $(cat ~{{base}}) * 1000 + ~{{i}} )) > v.txt >>>
  output {{ Int v = read_int("v.txt")  File f = "v.txt" }}
}}
workflow fan {{
  input {{ Int k }}
  call make {{ input: k = k }}
  scatter (i in range({SHARDS})) {{ call shard {{ input: base = make.base, i = i }} }}
  output {{ Array[Int] vs = shard.v  Array[File] fs = shard.f }}
}}
"""


def _config(tmp_path: Path, db_url: str, extra: str = "") -> str:
    conf = tmp_path / "app.conf"
    conf.write_text(
        "backend { default = Local, providers { Local { config { "
        f'root = "{tmp_path}/ex"\n{extra} }} }} }} }}\n'
        f'database {{ url = "{db_url}" }}\n'
    )
    return str(conf)


def _submit(client: httpx.Client, source: str, inputs: dict[str, Any]) -> str:
    files = {
        "workflowSource": ("w.wdl", source.encode()),
        "workflowInputs": ("i.json", json.dumps(inputs).encode()),
    }
    answer = client.post("/api/workflows/v1", files=files)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _wait_all(client: httpx.Client, ids: list[str], limit: float = 600) -> dict[str, str]:
    deadline = time.monotonic() + limit
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {wf: client.get(f"/api/workflows/v1/{wf}/status").json()["status"] for wf in ids}
        if all(s in ("Succeeded", "Failed", "Aborted") for s in statuses.values()):
            return statuses
        time.sleep(0.25)
    raise AssertionError(f"not finished: {statuses}")


def _check_fan_out(client: httpx.Client, wf: str, k: int) -> None:
    outputs = client.get(f"/api/workflows/v1/{wf}/outputs").json()["outputs"]
    expected = [k * 1000 + i for i in range(SHARDS)]
    assert outputs["fan.vs"] == expected, f"{wf} (k={k}) got another workflow's values"
    contents = [int(Path(f).read_text()) for f in outputs["fan.fs"]]
    assert contents == expected, f"{wf} (k={k}) points at another workflow's files"
    assert all(f"/{wf}/" in f for f in outputs["fan.fs"])


def _round(client: httpx.Client, ks: list[int]) -> list[str]:
    with ThreadPoolExecutor(len(ks)) as pool:
        ids = list(pool.map(lambda k: _submit(client, FAN_OUT, {"fan.k": k}), ks))
    statuses = _wait_all(client, ids)
    assert set(statuses.values()) == {"Succeeded"}, statuses
    for wf, k in zip(ids, ks, strict=True):
        _check_fan_out(client, wf, k)
    return ids


def test_eight_workflows_at_once_never_see_each_other(tmp_path: Path, db_url: str) -> None:
    config = _config(tmp_path, db_url)
    (tmp_path / "nocache.conf").write_text(
        Path(config).read_text() + "call-caching { enabled = false }\n"
    )
    app = create_app(ServerSettings(), build_engine_port(str(tmp_path / "nocache.conf")))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        for rep in range(5):
            _round(client, [rep * 100 + j for j in range(8)])


def test_call_cache_hits_only_between_identical_workflows(tmp_path: Path, db_url: str) -> None:
    app = create_app(ServerSettings(), build_engine_port(_config(tmp_path, db_url)))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        for rep in range(5):
            ks = [rep * 100 + j for j in range(7)] + [rep * 100 + 6]  # the last two identical
            ids = _round(client, ks)
            for wf, k in zip(ids, ks, strict=True):
                calls = client.get(f"/api/workflows/v1/{wf}/metadata").json()["calls"]
                hits = [
                    c for name in calls for c in calls[name] if c.get("callCaching", {}).get("hit")
                ]
                if k != rep * 100 + 6:
                    assert hits == [], f"{wf} (k={k}) hit another workflow's cache entry"


def test_job_limit_holds_across_workflows(tmp_path: Path) -> None:
    log = tmp_path / "spans"
    log.mkdir()
    source = f"""version 1.0
task nap {{
  input {{ String tag }}
  command <<<
    start=$(date +%s.%N); sleep 0.3; echo "$start $(date +%s.%N)" > {log}/~{{tag}}
  >>>
}}
workflow naps {{
  input {{ String w }}
  scatter (i in range(8)) {{ call nap {{ input: tag = w + "-" + i }} }}
}}
"""
    config = _config(tmp_path, f"sqlite:///{tmp_path}/db.sqlite", "concurrent-job-limit = 20")
    app = create_app(ServerSettings(), build_engine_port(config))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        ids = [_submit(client, source, {"naps.w": f"w{n}"}) for n in range(10)]
        assert set(_wait_all(client, ids).values()) == {"Succeeded"}
    spans = [tuple(map(float, p.read_text().split())) for p in log.iterdir()]
    assert len(spans) == 80
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert 1 < peak <= 20, peak
