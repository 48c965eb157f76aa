"""A MariaDB server of the test's own (own port, own data directory) that it may stop and start.

Never the shared one on 3306: stopping that would break every other test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"


def available() -> bool:
    """Whether this machine can run a private MariaDB."""
    return Path(MARIADBD).exists() and shutil.which(INSTALL_DB) is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnMariaDB:
    """``start``/``stop`` a private server; ``url`` for SQLAlchemy."""

    def __init__(self, root: Path) -> None:
        self.datadir = root / "mariadb-data"
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "mariadb.log"
        subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def url(self) -> str:
        """The test database's URL."""
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/faults"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it answers (creating the database once)."""
        self.proc = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.datadir}/mysqld.sock",
                "--user=root",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=32M",
                f"--log-error={self.log}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError("mariadbd did not answer")

    def _answers(self) -> bool:
        import pymysql

        try:
            conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1)
        except pymysql.err.OperationalError:
            return False
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS faults")
        conn.close()
        return True

    def stop(self) -> None:
        """Stop it the hard way (SIGKILL: a crash, not a shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self.proc = None
