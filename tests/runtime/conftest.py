"""Fixtures of the engine tests: databases (SQLite always, MySQL when configured) and a runner.

``IRONSIDE_TEST_MYSQL_URL`` (e.g. ``mysql+pymysql://root@127.0.0.1:3306/test``) adds the
MySQL/MariaDB case of every ``db_url`` test; each xdist worker gets its own database.
Unset: those cases are skipped, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MYSQL_ENV = "IRONSIDE_TEST_MYSQL_URL"


def _mysql_base_url() -> str | None:
    url = os.environ.get(MYSQL_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {MYSQL_ENV} is not set: the MySQL store tests must run")
        pytest.skip(f"{MYSQL_ENV} not set: MySQL store tests skipped")
    return url


@pytest.fixture(scope="session")
def mysql_url(worker_id: str) -> Iterator[str]:
    """A database of this xdist worker's own on the test MySQL server (dropped at the end)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = _mysql_base_url()
    assert base is not None
    # the pid keeps parallel runs of the suite (other checkouts) out of each other's database
    name = f"ironside_test_{worker_id}_{os.getpid()}".replace("-", "_")
    url = make_url(base)
    try:
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{MYSQL_ENV} unreachable under CI=true: {exc}")
        pytest.skip(f"{MYSQL_ENV} unreachable: {exc}")
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


def _reset_mysql(url: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.begin() as conn:
        for table in (
            "ironside_call_cache_entry",
            "ironside_md5_memo",
            "ironside_label",
            "ironside_metadata_event",
            "ironside_job",
            "ironside_call",
            "ironside_workflow",
            "alembic_version",
        ):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL: SQLite in tmp_path, or this worker's MySQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.sqlite"
    url = request.getfixturevalue("mysql_url")
    _reset_mysql(url)
    return str(url)


@dataclass
class RunResult:
    """What one ``ironside run`` printed and returned."""

    rc: int
    stdout: str
    stderr: str
    workdir: Path

    @property
    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)

    @property
    def outputs(self) -> dict[str, Any]:
        """The ``outputs`` of the printed result."""
        return dict(self.json["outputs"])


class Runner:
    """Writes a workflow and its files under a directory and runs ``ironside run`` on them."""

    def __init__(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.workdir = workdir
        self.capsys = capsys
        self.db_url = f"sqlite:///{workdir}/ironside.sqlite"
        self.config_text = ""

    def write(self, name: str, content: str | dict[str, Any] | list[Any]) -> Path:
        """Write a file (dicts/lists as JSON) under the work directory."""
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    def config(self) -> Path:
        """The HOCON config the run uses (database + any extra text)."""
        return self.write("app.conf", f'database {{ url = "{self.db_url}" }}\n{self.config_text}\n')

    def run(
        self,
        wdl: str | None,
        inputs: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        labels: dict[str, Any] | None = None,
        extra: list[str] | None = None,
        name: str = "main.wdl",
    ) -> RunResult:
        """Run in-process (``ironside.cli.main``) with the work directory as cwd."""
        from ironside.cli import main

        argv = ["run"]
        if wdl is not None:
            argv.append(str(self.write(name, wdl)))
        if inputs is not None:
            argv += ["-i", str(self.write("inputs.json", inputs))]
        if options is not None:
            argv += ["-o", str(self.write("options.json", options))]
        if labels is not None:
            argv += ["-l", str(self.write("labels.json", labels))]
        argv += ["--config", str(self.config())] + (extra or [])
        self.capsys.readouterr()
        old = os.getcwd()
        os.chdir(self.workdir)
        try:
            rc = main(argv)
        finally:
            os.chdir(old)
        out = self.capsys.readouterr()
        return RunResult(rc, out.out, out.err, self.workdir)


@pytest.fixture
def runner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Runner:
    """A runner over a fresh work directory and SQLite store."""
    return Runner(tmp_path, capsys)


def ironside_cmd() -> list[str]:
    """The command line of the ``ironside`` console script of this interpreter."""
    return [sys.executable, "-m", "ironside.cli"]
