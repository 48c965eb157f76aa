"""What a small ``ironside`` invocation loads and how it ends (bench/small_workflow.py
measures the time; these hold the behaviour that makes it small)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHAIN = """version 1.0
task add_one {
  input { Int x }
  command <<< echo $((~{x}+1)) >>>
  output { Int y = read_int(stdout()) }
}
workflow chain {
  call add_one as a1 { input: x = 0 }
  call add_one as a2 { input: x = a1.y }
  output { Int y = a2.y }
}
"""

#: what the probe prints at exit: the modules loaded (atexit handlers still run)
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["ironside", *sys.argv[1:]]
from ironside.cli import main
sys.exit(main())
"""


def _modules(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("["), proc.stderr
    last = lines[-1]
    return proc, {m.split(".")[0] for m in json.loads(last)} | set(json.loads(last))


def test_version_loads_neither_wdl_nor_the_store_nor_http(tmp_path: Path) -> None:
    proc, modules = _modules(tmp_path, "--version")
    assert proc.returncode == 0 and "ironside" in proc.stdout
    assert not modules & {"WDL", "sqlalchemy", "httpx", "pyhocon", "alembic", "boto3"}


def test_a_small_run_loads_no_alembic_server_http_or_aws(tmp_path: Path) -> None:
    """Without the call cache (as miniwdl runs by default; the cache's S3 client loads
    botocore, see bench/small_workflow.py)."""
    (tmp_path / "chain.wdl").write_text(CHAIN)
    (tmp_path / "app.conf").write_text("call-caching.enabled = false\n")
    proc, modules = _modules(tmp_path, "run", "chain.wdl", "--config", "app.conf")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"] == {"chain.y": 2}
    assert "sqlalchemy" in modules and "WDL" in modules  # the probe sees a real run
    assert not modules & {"alembic", "httpx", "boto3", "botocore", "fastapi", "uvicorn"}
    assert "ironside.server.app" not in modules


def test_a_failed_run_exits_1_with_its_output_flushed(tmp_path: Path) -> None:
    (tmp_path / "fail.wdl").write_text(
        "version 1.0\ntask t { command <<< exit 3 >>> }\nworkflow w { call t }\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ironside.cli", "run", "fail.wdl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "ironside: failed: w.t failed: return code 3" in proc.stderr
