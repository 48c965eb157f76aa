"""Runtime attributes and workflow options on the local backend, with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.runtime.conftest import Runner, ironside_cmd


def test_max_retries_new_attempt_directory(runner: Runner) -> None:
    """A failing first attempt is retried in attempt-2/; metadata shows both attempts."""
    marker = runner.workdir / "marker"
    wdl = f"""version 1.0
task flaky {{
  command <<<
    if [ -e {marker} ]; then echo ok; else touch {marker}; exit 3; fi
  >>>
  runtime {{ maxRetries: 2 }}
  output {{ String o = read_string(stdout()) }}
}}
workflow r {{ call flaky output {{ String o = flaky.o }} }}
"""
    res = runner.run(wdl, extra=["-m", "md.json"])
    assert res.rc == 0, res.stderr
    assert res.outputs == {"r.o": "ok"}
    md = json.loads((runner.workdir / "md.json").read_text())
    attempts = md["calls"]["r.flaky"]
    assert [a["executionStatus"] for a in attempts] == ["RetryableFailure", "Done"]
    assert [a["returnCode"] for a in attempts] == [3, 0]
    assert attempts[1]["callRoot"].endswith("call-flaky/attempt-2")
    assert Path(attempts[1]["stdout"]).read_text() == "ok\n"


def test_continue_on_return_code_and_fail_on_stderr(runner: Runner) -> None:
    """continueOnReturnCode accepts listed codes; failOnStderr fails on any stderr."""
    wdl = """version 1.0
task five { command <<< exit 5 >>> runtime { continueOnReturnCode: [0, 5] } output { Int x = 1 } }
task noisy { command <<< echo oops >&2 >>> runtime { failOnStderr: true } output { Int y = 2 } }
workflow c {
  call five
  call noisy
  output { Int x = five.x  Int y = noisy.y }
}
"""
    res = runner.run(
        wdl, options={"workflow_failure_mode": "ContinueWhilePossible"}, extra=["-m", "md.json"]
    )
    assert res.rc == 1
    md = json.loads((runner.workdir / "md.json").read_text())
    assert md["status"] == "Failed"
    assert md["calls"]["c.five"][0]["executionStatus"] == "Done"
    assert md["calls"]["c.five"][0]["returnCode"] == 5
    assert md["calls"]["c.noisy"][0]["executionStatus"] == "Failed"
    assert "failOnStderr" in md["failures"][0]["message"]
    assert "failOnStderr" in res.stderr
    assert res.stdout == ""


def test_concurrent_job_limit(runner: Runner) -> None:
    """No more than concurrent-job-limit tasks run at once."""
    log = runner.workdir / "log"
    runner.config_text = "backend.providers.Local.config.concurrent-job-limit = 2"
    wdl = f"""version 1.0
task t {{
  input {{ Int i }}
  command <<<
    echo "start $(date +%s.%N)" >> {log}
    sleep 0.3
    echo "end $(date +%s.%N)" >> {log}
  >>>
}}
workflow p {{ scatter (i in range(6)) {{ call t {{ input: i = i }} }} }}
"""
    res = runner.run(wdl)
    assert res.rc == 0, res.stderr
    events = sorted(
        (float(ts), kind) for kind, ts in (line.split() for line in log.read_text().splitlines())
    )
    assert len(events) == 12
    level, peak = 0, 0
    for _, kind in events:
        level += 1 if kind == "start" else -1
        peak = max(peak, level)
    assert peak == 2


def test_no_new_calls_stops_the_rest(runner: Runner) -> None:
    """NoNewCalls (default): after a failure, calls not yet started never start."""
    wdl = """version 1.0
task fail { command <<< exit 1 >>> }
task after { input { Int i } command <<< echo ~{i} >>> output { Int o = i } }
workflow n {
  call fail
  scatter (i in range(3)) { call after { input: i = i } }
}
"""
    runner.config_text = "backend.providers.Local.config.concurrent-job-limit = 1"
    res = runner.run(wdl, extra=["-m", "md.json"])
    assert res.rc == 1
    md = json.loads((runner.workdir / "md.json").read_text())
    assert md["calls"]["n.fail"][0]["executionStatus"] == "Failed"
    assert "n.after" not in md["calls"]
    res = runner.run(
        wdl, options={"workflow_failure_mode": "ContinueWhilePossible"}, extra=["-m", "md2.json"]
    )
    md = json.loads((runner.workdir / "md2.json").read_text())
    assert res.rc == 1
    assert [c["executionStatus"] for c in md["calls"]["n.after"]] == ["Done"] * 3


def test_options_outputs_dirs_defaults_and_warnings(runner: Runner) -> None:
    """final_workflow_outputs_dir (+relative), final_call_logs_dir, default runtime, warnings."""
    wdl = """version 1.0
task mk { command <<< mkdir -p sub; echo hi > sub/f.txt; echo $CPUS >&2 >>>
  runtime { memory: "1 GB" }
  output { File f = "sub/f.txt" } }
workflow o { call mk output { File f = mk.f } }
"""
    options = {
        "final_workflow_outputs_dir": str(runner.workdir / "final"),
        "use_relative_output_paths": True,
        "final_call_logs_dir": str(runner.workdir / "logs"),
        "final_workflow_log_dir": str(runner.workdir / "wflogs"),
        "default_runtime_attributes": {"cpu": 3},
        "totally_unknown": 1,
    }
    res = runner.run(wdl, options=options, extra=["-m", "md.json"])
    assert res.rc == 0, res.stderr
    assert res.outputs["o.f"] == str(runner.workdir / "final" / "sub" / "f.txt")
    assert Path(res.outputs["o.f"]).read_text() == "hi\n"
    logs = list((runner.workdir / "logs").rglob("stdout"))
    assert len(logs) == 1
    (wflog,) = (runner.workdir / "wflogs").glob("workflow.*.log")
    assert "status Running" in wflog.read_text()
    md = json.loads((runner.workdir / "md.json").read_text())
    rt = md["calls"]["o.mk"][0]["runtimeAttributes"]
    assert rt["cpu"] == "3" and rt["memory"] == "1 GB"
    assert any("totally_unknown" in w for w in md["warnings"])


def test_abort_kills_the_process_group(tmp_path: Path) -> None:
    """SIGTERM to ironside: the task's whole process group dies; exit 1, status Aborted."""
    pidfile = tmp_path / "child.pid"
    wdl = tmp_path / "a.wdl"
    wdl.write_text(
        f"""version 1.0
task long {{ command <<<
  sleep 300 &
  echo $! > {pidfile}
  wait
>>> }}
workflow a {{ call long }}
"""
    )
    proc = subprocess.Popen(
        ironside_cmd() + ["run", str(wdl), "-m", str(tmp_path / "md.json")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "task never started"
        time.sleep(0.1)
    grandchild = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild)
    md = json.loads((tmp_path / "md.json").read_text())
    assert md["status"] == "Aborted"
    assert md["calls"]["a.long"][0]["executionStatus"] == "Aborted"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def test_python_entry_point_help() -> None:
    """``ironside --help`` and ``ironside run --help`` work."""
    for argv in (["--help"], ["run", "--help"]):
        out = subprocess.run(
            [sys.executable, "-m", "ironside.cli", *argv], capture_output=True, text=True
        )
        assert out.returncode == 0
        assert "usage: ironside" in out.stdout
    assert os.path.basename(sys.executable)
