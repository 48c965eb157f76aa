"""Progress: a live rich view when stderr is a terminal, plain log lines otherwise."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

from tests.runtime.conftest import ironside_cmd

WDL = """version 1.0
task t { input { Int i } command <<< sleep 0.3; echo ~{i} >>>
         output { Int o = read_int(stdout()) } }
workflow p { scatter (i in range(3)) { call t { input: i = i } } output { Array[Int] os = t.o } }
"""


def test_rich_view_on_a_terminal_json_alone_on_stdout(tmp_path: Path) -> None:
    """stderr on a pty shows the live table; stdout (a pipe) carries only the result JSON."""
    wdl = tmp_path / "p.wdl"
    wdl.write_text(WDL)
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="120", TERM="xterm")
    proc = subprocess.Popen(
        ironside_cmd() + ["run", str(wdl)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, screen
    assert json.loads(out)["outputs"] == {"p.os": [0, 1, 2]}
    for word in ("queued", "running", "done", "failed", "cached", "elapsed"):
        assert word in screen


def test_plain_log_lines_when_not_a_terminal(tmp_path: Path) -> None:
    """Without a terminal: key=value log lines on stderr, no terminal control codes."""
    wdl = tmp_path / "p.wdl"
    wdl.write_text(WDL)
    proc = subprocess.run(
        ironside_cmd() + ["run", str(wdl)], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and all("level=" in line and "msg=" in line for line in lines)
    assert "\x1b[" not in proc.stderr
    assert any("Succeeded" in line for line in lines)
