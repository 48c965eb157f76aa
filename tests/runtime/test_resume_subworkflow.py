"""Resume a workflow whose scatter calls sub-workflows; no task runs twice."""

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

SUB = """version 1.0
task work {{
  input {{ Int i }}
  command <<<
    echo ~{{i}} >> {side}
    sleep 0.4
    echo $(( ~{{i}} + 100 ))
  >>>
  output {{ Int o = read_int(stdout()) }}
}}
workflow inner {{
  input {{ Int i }}
  call work {{ input: i = i }}
  output {{ Int o = work.o }}
}}
"""

MAIN = """version 1.0
import "sub.wdl" as s
workflow outer {
  scatter (i in range(12)) { call s.inner { input: i = i } }
  output { Array[Int] os = inner.o }
}
"""


@pytest.mark.slow
def test_resume_with_sub_workflows(tmp_path: Path) -> None:
    """SIGKILL while sub-workflows run; resume reuses them; each task ran once."""
    side = tmp_path / "side.txt"
    (tmp_path / "sub.wdl").write_text(SUB.format(side=side))
    (tmp_path / "main.wdl").write_text(MAIN)
    conf = tmp_path / "app.conf"
    conf.write_text(
        f'database.url = "sqlite:///{tmp_path}/db.sqlite"\n'
        "backend.providers.Local.config.concurrent-job-limit = 2\n"
    )
    cmd = ironside_cmd() + ["run", str(tmp_path / "main.wdl"), "--config", str(conf)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not side.exists() or len(side.read_text().split()) < 4:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    found = re.search(r"workflow outer ([0-9a-f-]{36}) starting", err)
    assert found, err
    wf_id = found.group(1)
    res = subprocess.run(
        ironside_cmd() + ["run", "--resume", wf_id, "--config", str(conf), "-m", "md.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["outputs"]["outer.os"] == [i + 100 for i in range(12)]
    assert sorted(int(x) for x in side.read_text().split()) == list(range(12))
    md = json.loads((tmp_path / "md.json").read_text())
    subs = md["calls"]["outer.inner"]
    assert sorted(c["shardIndex"] for c in subs) == list(range(12))
    assert all(c["subWorkflowMetadata"]["status"] == "Succeeded" for c in subs)
