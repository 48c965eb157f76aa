"""``ironside server`` as a real subprocess on a free loopback port, with its own config."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(root: Path, extra: str = "", job_limit: int = 8) -> Path:
    """A config keeping executions and the SQLite store under ``root``."""
    conf = root / "app.conf"
    conf.write_text(
        f"""
backend {{
  default = "Local"
  providers {{ Local {{ config {{
    root = "{root / "executions"}", concurrent-job-limit = {job_limit}
  }} }} }}
}}
database {{ url = "sqlite:///{root / "ironside.sqlite"}" }}
{extra}
"""
    )
    return conf


class ServerProcess:
    """Start/stop/kill ``ironside server``; logs go to ``<root>/server-N.log``."""

    def __init__(
        self,
        root: Path,
        config: Path,
        env: dict[str, str] | None = None,
        own_session: bool = False,
    ) -> None:
        """``own_session``: the server (and the tasks it starts) in a session of their own."""
        self.root = root
        self.config = config
        self.own_session = own_session
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``/engine/v1/status`` answers."""
        self.port = free_port()
        self.starts += 1
        log = open(self.root / f"server-{self.starts}.log", "wb")  # noqa: SIM115
        cmd = [sys.executable, "-m", "ironside.cli", "server", "--config", str(self.config)]
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            env=self.env,
            start_new_session=self.own_session,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()[-2000:]}")
            try:
                if httpx.get(self.url + "/engine/v1/status", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log()[-2000:]}")

    def log(self) -> str:
        """Everything the server logged so far."""
        return (self.root / f"server-{self.starts}.log").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_status(client: httpx.Client, wf_id: str, wanted: set[str], timeout: float = 180.0) -> str:
    """Poll ``/status`` until it is one of ``wanted`` (bounded in time)."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = client.get(f"/api/workflows/v1/{wf_id}/status").json()["status"]
        if status in wanted:
            return str(status)
        time.sleep(0.25)
    raise AssertionError(f"{wf_id} still {status} after {timeout}s")
