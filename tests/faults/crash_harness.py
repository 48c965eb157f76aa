"""A 200-shard workflow whose tasks leave a line each in a side file, and its checks.

Used by the crash-point tests: whatever point the engine is killed at, after a
resume (``ironside run --resume``) or a restart (``ironside server``) the
workflow Succeeded, each shard's line is there exactly once, and the outputs
and ``final_workflow_outputs_dir`` are complete and correct.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SHARDS = 200
WDL = f"""version 1.0
task shard {{
  input {{ Int i  String side }}
  command <<< sleep 0.05; echo ~{{i}} > out.txt; echo ~{{i}} >> ~{{side}} >>>
  output {{ File out = "out.txt"  Int v = read_int("out.txt") }}
}}
task gather {{
  input {{ Array[Int] vs  String side }}
  command <<< sleep 0.5; echo gather >> ~{{side}}.gather; echo ~{{sep=" " vs}} | wc -w >>>
  output {{ Int n = read_int(stdout()) }}
}}
workflow crash {{
  input {{ String side  Int n = {SHARDS} }}
  scatter (i in range(n)) {{ call shard {{ input: i = i, side = side }} }}
  call gather {{ input: vs = shard.v, side = side }}
  output {{ Array[File] outs = shard.out  Int total = gather.n }}
}}
"""


class World:
    """The files of one crash test: workflow, inputs, options, config, side file."""

    def __init__(self, root: Path, job_limit: int = 8) -> None:
        self.root = root
        self.job_limit = job_limit
        self.side = root / "side.txt"
        self.final = root / "final"
        (root / "crash.wdl").write_text(WDL)
        (root / "inputs.json").write_text(json.dumps({"crash.side": str(self.side)}))
        (root / "options.json").write_text(
            json.dumps({"final_workflow_outputs_dir": str(self.final)})
        )
        self.db = root / "ironside.sqlite"
        self.config = root / "app.conf"
        self.config.write_text(
            "backend { default = Local, providers { Local { config {\n"
            f'  root = "{root / "ex"}", concurrent-job-limit = {job_limit}\n'
            "} } } }\n"
            f'database {{ url = "sqlite:///{self.db}" }}\n'
        )

    def run_args(self) -> list[str]:
        """``ironside run`` of the workflow."""
        return [
            "run",
            str(self.root / "crash.wdl"),
            "-i",
            str(self.root / "inputs.json"),
            "-o",
            str(self.root / "options.json"),
            "--config",
            str(self.config),
        ]

    def ironside(
        self, args: list[str], failpoint: str | None = None, **popen: Any
    ) -> subprocess.Popen[str]:
        """Start ``ironside ARGS`` (with a crash point when given)."""
        env = {**os.environ, "IRONSIDE_LOG_LEVEL": "WARNING"}
        env.pop("IRONSIDE_FAILPOINT", None)
        if failpoint:
            env["IRONSIDE_FAILPOINT"] = failpoint
        return subprocess.Popen(
            [sys.executable, "-m", "ironside.cli", *args],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **popen,
        )

    def workflow_ids(self) -> list[str]:
        """Top-level workflows in the store."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            try:
                rows = conn.execute(
                    "SELECT id FROM ironside_workflow WHERE parent_id IS NULL"
                ).fetchall()
            except sqlite3.OperationalError:
                return []  # killed before the schema was made
        return [r[0] for r in rows]

    def side_lines(self) -> Counter[int]:
        """How often each shard's line is in the side file."""
        if not self.side.exists():
            return Counter()
        return Counter(int(x) for x in self.side.read_text().split())

    def check(
        self, outputs: dict[str, Any], lost_window: bool = False, in_final: bool = True
    ) -> None:
        """Nothing lost, nothing run twice, outputs and final directory complete.

        ``in_final``: the outputs name the copies in the final directory (``run``'s
        answer); the server's ``/outputs`` names the files where the calls left them.

        ``lost_window``: the tasks were killed with the engine (a reboot). A task killed
        after its command's last line but before its wrapper wrote ``rc`` looks exactly
        like one killed mid-command, so its retry may repeat the line: such a shard is
        allowed, provided its killed attempt has no ``rc`` (at most the job limit of them:
        only attempts running at the kill can be in that window).
        """
        lines = self.side_lines()
        twice = sorted(i for i, n in lines.items() if n > 1)
        if lost_window:
            twice = [i for i in twice if not self._killed_before_rc(i)]
            assert sum(1 for n in lines.values() if n > 1) <= self.job_limit
        assert not twice, f"shards run twice: {twice[:20]}"
        assert sorted(lines) == list(range(SHARDS)), "shards missing"
        assert outputs["crash.total"] == SHARDS
        outs = outputs["crash.outs"]
        assert len(outs) == SHARDS
        for i, path in enumerate(outs):
            assert path.startswith(str(self.final)) or not in_final, path
            assert Path(path).read_text().strip() == str(i)
        assert len([p for p in self.final.rglob("*") if p.is_file()]) == SHARDS
        assert not self.calls_without_job_rows(), "the job table misses attempts"

    def calls_without_job_rows(self) -> list[tuple[str, int, int]]:
        """Attempts that ran a job (not cache hits) but have no row in the job table."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT c.fqn, c.shard, c.attempt FROM ironside_call c"
                " LEFT JOIN ironside_job j ON j.workflow_id = c.workflow_id AND j.fqn = c.fqn"
                " AND j.shard = c.shard AND j.attempt = c.attempt"
                " WHERE c.job_id IS NOT NULL AND NOT c.cached AND j.job_id IS NULL"
            ).fetchall()
        return [(str(f), int(s), int(a)) for f, s, a in rows]

    def _killed_before_rc(self, shard: int) -> bool:
        """The shard's first attempt has no rc and a later attempt finished (the window)."""
        first = next(iter(self.root.glob(f"ex/crash/*/call-shard/shard-{shard}/execution")))
        retried = list(
            self.root.glob(f"ex/crash/*/call-shard/shard-{shard}/attempt-*/execution/rc")
        )
        return not (first / "rc").exists() and bool(retried)


def _session_members(sid: int) -> dict[int, str]:
    """Processes of session ``sid`` and their state letters."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:
            members[int(entry.name)] = fields[0]
    return members


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def kill_session(sid: int) -> None:
    """SIGKILL every process of session ``sid`` at once (the engine and its tasks: a reboot).

    All are stopped first, until none is left running, so that no process can start a
    child (or outlive its parent) between one kill and the next.
    """
    for _ in range(100):
        running = [p for p, state in _session_members(sid).items() if state not in "TtZ"]
        if not running:
            break
        _signal_all(running, signal.SIGSTOP)
        time.sleep(0.01)
    _signal_all(_session_members(sid), signal.SIGKILL)


def wait_for(predicate: Any, timeout: float = 120.0) -> None:
    """Poll ``predicate`` until true (bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
