"""Schemathesis against a real ``ironside server`` (used by ``bench/api_fuzz.py`` and the suite).

The server runs as a subprocess (real engine, SQLite) with a canary secret in
its environment; ``schemathesis run`` fuzzes its own ``/openapi.json`` with
``CHECKS`` for a time budget.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from .server_proc import ServerProcess, write_config

CHECKS = ",".join(
    (
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
    )
)
CANARY = "fuzz-canary-5e1b0c"


def schemathesis(
    url: str, seconds: int, workers: int, report_dir: Path
) -> subprocess.CompletedProcess[str]:
    """Run the schemathesis CLI of this interpreter against ``url``."""
    exe = Path(sys.executable).with_name("schemathesis")
    cmd = [
        str(exe),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-time",
        str(seconds),
        "--workers",
        str(workers),
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]
    return subprocess.run(  # its cache (.schemathesis/) goes beside the report, not here
        cmd, capture_output=True, text=True, timeout=seconds + 300, cwd=report_dir.parent
    )


def counts(summary: str) -> dict[str, int]:
    """Operations tested, test cases generated and failures, from schemathesis's summary."""

    def number(pattern: str) -> int:
        match = re.search(pattern, summary)
        return int(match.group(1)) if match else 0

    return {
        "operations": number(r"Tested: (\d+)"),
        "cases": number(r"(\d+) generated"),
        "failures": number(r"found (\d+) unique failures"),
    }


def fuzz(seconds: int, workers: int = 1) -> tuple[int, dict[str, int], str]:
    """Start a server, fuzz it; (schemathesis exit code, counts, its output's tail)."""
    with tempfile.TemporaryDirectory(prefix="ironside-fuzz-") as tmp:
        root = Path(tmp)
        env = {"AWS_SECRET_ACCESS_KEY": CANARY, "IRONSIDE_SERVER_WORKFLOWS": "1"}
        server = ServerProcess(root, write_config(root), env=env)
        server.start()
        try:
            report = root / "report"
            done = schemathesis(server.url, seconds, workers, report)
            found = counts(done.stdout)
            found["canary_in_log"] = int(CANARY in server.log())
            found["tracebacks_in_log"] = server.log().count("Traceback")
        finally:
            server.stop()
    return done.returncode, found, done.stdout[-3000:] + done.stderr[-2000:]
