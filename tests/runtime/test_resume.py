"""Restart after SIGKILL: ``--resume`` finishes the workflow and no shard runs twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.runtime.conftest import ironside_cmd

WDL = """version 1.0
task shard {{
  input {{ Int i }}
  command <<<
    echo ~{{i}} >> {side}
    sleep 0.3
    echo $(( ~{{i}} * 3 ))
  >>>
  output {{ Int o = read_int(stdout()) }}
}}
workflow many {{
  scatter (i in range(50)) {{ call shard {{ input: i = i }} }}
  output {{ Array[Int] os = shard.o }}
}}
"""


def _start(cmd: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigkill_then_resume_runs_each_shard_once(tmp_path: Path) -> None:
    """Kill the engine mid-scatter; resume; Succeeded, every shard ran exactly once."""
    side = tmp_path / "side.txt"
    wdl = tmp_path / "many.wdl"
    wdl.write_text(WDL.format(side=side))
    conf = tmp_path / "app.conf"
    conf.write_text(f'database.url = "sqlite:///{tmp_path}/db.sqlite"\n')
    proc = _start(ironside_cmd() + ["run", str(wdl), "--config", str(conf)], tmp_path)
    deadline = time.monotonic() + 120
    while not side.exists() or len(side.read_text().split()) < 15:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    wf_id = re.search(r"workflow many ([0-9a-f-]{36}) starting", err)
    assert wf_id, err
    started_before = len(side.read_text().split())
    assert started_before < 50

    proc2 = _start(
        ironside_cmd()
        + ["run", "--resume", wf_id.group(1), "--config", str(conf), "-m", "md.json"],
        tmp_path,
    )
    out, err2 = proc2.communicate(timeout=180)
    assert proc2.returncode == 0, err2
    result = json.loads(out)
    assert result["id"] == wf_id.group(1)
    assert result["outputs"]["many.os"] == [i * 3 for i in range(50)]
    ran = [int(x) for x in side.read_text().split()]
    assert sorted(ran) == list(range(50)), "a shard ran twice or never"
    md = json.loads((tmp_path / "md.json").read_text())
    assert md["status"] == "Succeeded"
    shards = md["calls"]["many.shard"]
    assert sorted(c["shardIndex"] for c in shards) == list(range(50))
    odd = [c for c in shards if c["executionStatus"] != "Done" or c["attempt"] != 1]
    assert odd == []
