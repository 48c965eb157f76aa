"""cromshell 2, unchanged, against ``ironside server`` running the real engine on loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .server_proc import ServerProcess, wait_status, write_config

pytestmark = pytest.mark.slow

SCATTER = """version 1.0
task greet {
  input { String name  Int i }
  command <<< echo "hello ~{name} ~{i}" > greeting.txt; echo "log line ~{i}" >&2 >>>
  output { File greeting = "greeting.txt" }
}
task count {
  input { Array[File] files }
  command <<< cat ~{sep=" " files} | wc -l >>>
  output { Int n = read_int(stdout()) }
}
workflow hello {
  input { String name }
  scatter (i in range(3)) { call greet { input: name = name, i = i } }
  call count { input: files = greet.greeting }
  output { Array[File] greetings = greet.greeting  Int n = count.n }
}
"""
SLOW = """version 1.0
task nap { command <<< sleep 120 >>> }
workflow slow { call nap }
"""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("cromshell-server")
    proc = ServerProcess(root, write_config(root))
    proc.start()
    yield proc
    proc.stop()


class Cromshell:
    """Runs the ``cromshell`` console script with its config in a temporary home."""

    def __init__(self, home: Path, url: str) -> None:
        self.home = home
        self.url = url
        cfg = home / ".cromshell"
        cfg.mkdir(parents=True, exist_ok=True)
        (cfg / "cromshell_config.json").write_text(
            json.dumps({"cromwell_server": url, "requests_timeout": 30})
        )
        exe = shutil.which("cromshell", path=os.path.dirname(sys.executable))
        assert exe, "cromshell is pinned in requirements/dev.txt"
        self.exe = exe

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(self.home), "CROMSHELL_CONFIG": str(self.home)}
        env["COLUMNS"] = "200"
        done = subprocess.run(
            [self.exe, "-mc", *args],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done


@pytest.fixture(scope="module")
def cromshell(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Cromshell:
    return Cromshell(tmp_path_factory.mktemp("cromshell-home"), server.url)


@pytest.fixture(scope="module")
def finished(server: ServerProcess, cromshell: Cromshell) -> str:
    wdl = cromshell.home / "hello.wdl"
    wdl.write_text(SCATTER)
    inputs = cromshell.home / "hello.inputs.json"
    inputs.write_text(json.dumps({"hello.name": "cromshell"}))
    out = cromshell("submit", str(wdl), str(inputs))
    ids = UUID.findall(out.stdout)
    assert ids, out.stdout
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert wait_status(c, ids[0], {"Succeeded", "Failed"}) == "Succeeded"
    return ids[0]


def test_submit_records_the_workflow(cromshell: Cromshell, finished: str) -> None:
    tsv = (cromshell.home / ".cromshell" / "all.workflow.database.tsv").read_text()
    assert finished in tsv and cromshell.url in tsv


def test_status(cromshell: Cromshell, finished: str) -> None:
    out = cromshell("status", finished)
    assert '"status":"Succeeded"' in out.stdout.replace(" ", "").replace("\n", "")


def test_metadata_and_slim_metadata(cromshell: Cromshell, finished: str) -> None:
    md = json.loads(cromshell("metadata", finished).stdout)
    assert md["id"] == finished and md["status"] == "Succeeded"
    assert [c["shardIndex"] for c in md["calls"]["hello.greet"]] == [0, 1, 2]
    assert "submittedFiles" not in md  # cromshell excludes it
    slim = json.loads(cromshell("slim-metadata", finished).stdout)
    assert slim["status"] == "Succeeded"
    assert {"executionStatus", "shardIndex", "attempt"} <= set(slim["calls"]["hello.count"][0])
    assert "inputs" not in slim["calls"]["hello.count"][0]


def test_counts(cromshell: Cromshell, finished: str) -> None:
    out = cromshell("counts", finished).stdout
    assert "hello.greet" in out and "hello.count" in out
    assert re.search(r"hello\.greet\s+0 Running, 3 Done, 0 Preempted, 0 Failed", out), out
    assert "Succeeded" in out


def test_list_outputs(cromshell: Cromshell, finished: str) -> None:
    out = cromshell("list-outputs", finished).stdout
    assert out.count("greeting.txt") == 3, out
    files = re.findall(r"(/\S+greeting\.txt)", out)
    assert sorted(Path(f).read_text() for f in files) == [
        f"hello cromshell {i}\n" for i in range(3)
    ]


def test_logs(cromshell: Cromshell, finished: str) -> None:
    out = cromshell("logs", "-s", "ALL", finished).stdout
    assert "hello.greet-shard-0" in out and "hello.count" in out
    assert "Done" in out


def test_abort(server: ServerProcess, cromshell: Cromshell) -> None:
    wdl = cromshell.home / "slow.wdl"
    wdl.write_text(SLOW)
    inputs = cromshell.home / "slow.inputs.json"
    inputs.write_text("{}")
    wf = UUID.findall(cromshell("submit", str(wdl), str(inputs)).stdout)[0]
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert wait_status(c, wf, {"Running"}) == "Running"
        out = cromshell("abort", wf)
        assert "Aborting" in out.stdout or "Aborted" in out.stdout, out.stdout
        assert wait_status(c, wf, {"Aborted", "Failed", "Succeeded"}, 120) == "Aborted"
        again = c.post(f"/api/workflows/v1/{wf}/abort")
        assert again.status_code == 403 and again.json()["status"] == "fail"


def test_bad_submission_is_refused_by_the_server(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post(
            "/api/workflows/v1",
            files={"workflowSource": ("w", b"version 1.0\nworkflow w {\n  call missing\n}\n")},
        )
        assert r.status_code == 400
        assert r.json()["status"] == "fail" and "3:" in r.json()["message"]
        n = c.get("/api/workflows/v1/query", params={"name": "w"}).json()["totalResultsCount"]
        assert n == 0
