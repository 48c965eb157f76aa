"""The soak: many small workflows submitted to ``ironside server`` while it is SIGKILLed and
restarted on a schedule. Every accepted workflow must Succeed, its task must run once.

A client that lost its answer to a kill submits again under the same
``requestedWorkflowId``: a 409 then means the first attempt was stored.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.server_proc import ServerProcess, write_config

WDL = """version 1.0
task mark {
  input { String path  Int n }
  command <<< echo ~{n} >> ~{path} >>>
  output { Int v = n }
}
workflow soak {
  input { String path  Int n }
  call mark { input: path = path, n = n }
  output { Int v = mark.v }
}
"""


@dataclass
class SoakFigures:
    """What one soak measured."""

    submitted: int = 0
    succeeded: int = 0
    duplicates: int = 0  # workflows whose task ran more than once
    missing: int = 0  # workflows whose task never ran
    kills: int = 0
    wall: float = 0.0
    rss_after_first_100_mb: float = 0.0
    rss_end_mb: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Soak:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.marks = root / "marks"
        self.marks.mkdir(parents=True, exist_ok=True)
        self.server = ServerProcess(root, write_config(root, job_limit=8))
        self.ids: dict[int, str] = {}
        self.figures = SoakFigures()

    def submit(self, n: int) -> None:
        wf_id = str(uuid.uuid4())
        inputs = {"soak.path": str(self.marks / f"{n}.txt"), "soak.n": n}
        files = {
            "workflowSource": ("soak.wdl", WDL.encode()),
            "workflowInputs": ("i.json", json.dumps(inputs).encode()),
            "requestedWorkflowId": (None, wf_id.encode()),
        }
        for _ in range(600):  # bounded: the server is back within seconds of a kill
            try:
                answer = httpx.post(self.server.url + "/api/workflows/v1", files=files, timeout=30)
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            if answer.status_code in (201, 409):  # 409: stored by an earlier try
                self.ids[n] = wf_id
                return
            time.sleep(0.2)
        raise AssertionError(f"workflow {n} was never accepted")

    def statuses(self) -> dict[str, str]:
        answer = httpx.get(self.server.url + "/api/workflows/v1/query", timeout=60)
        return {r["id"]: r["status"] for r in answer.json()["results"]}

    def restart(self) -> None:
        self.server.kill()
        self.figures.kills += 1
        self.server.start()


def run_soak(root: Path, workflows: int, seconds: float, kill_every: float) -> SoakFigures:
    """Submit ``workflows`` over ``seconds``, SIGKILL + restart every ``kill_every`` seconds."""
    soak = _Soak(root)
    soak.server.start()
    started = time.monotonic()
    next_kill = started + kill_every
    try:
        for n in range(workflows):
            due = started + seconds * n / workflows
            while time.monotonic() < due:
                time.sleep(0.01)
            if time.monotonic() >= next_kill:
                soak.restart()
                next_kill = time.monotonic() + kill_every
            soak.submit(n)
            if n == 99 or (workflows < 100 and n == workflows - 1):
                _wait_done(soak, set(soak.ids.values()))
                assert soak.server.proc is not None
                soak.figures.rss_after_first_100_mb = _rss_mb(soak.server.proc.pid)
        soak.restart()  # once more, with the last workflows in flight
        final = _wait_done(soak, set(soak.ids.values()))
        assert soak.server.proc is not None
        soak.figures.rss_end_mb = _rss_mb(soak.server.proc.pid)
    finally:
        soak.server.stop()
    figures = soak.figures
    figures.wall = time.monotonic() - started
    figures.submitted = len(soak.ids)
    for status in final.values():
        figures.statuses[status] = figures.statuses.get(status, 0) + 1
    figures.succeeded = figures.statuses.get("Succeeded", 0)
    for n in soak.ids:
        path = soak.marks / f"{n}.txt"
        runs = len(path.read_text().split()) if path.exists() else 0
        figures.duplicates += runs > 1
        figures.missing += runs == 0
    return figures


def _wait_done(soak: _Soak, ids: set[str], limit: float = 900) -> dict[str, str]:
    deadline = time.monotonic() + limit
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {k: v for k, v in soak.statuses().items() if k in ids}
        if len(statuses) == len(ids) and all(
            s in ("Succeeded", "Failed", "Aborted") for s in statuses.values()
        ):
            return statuses
        time.sleep(0.5)
    raise AssertionError(f"not finished: {statuses}")
