"""A new SQLite store is a copy of a migrated template: the same schema as migrating it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ironside.store import open_store


def _schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return [*rows, ("alembic_version", str(version))]


def test_seeded_store_has_the_migrated_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRONSIDE_CACHE_DIR", str(tmp_path / "cache"))
    first = tmp_path / "a" / "first.sqlite"  # makes the template (by migrating it)
    open_store(f"sqlite:///{first}").close()
    templates = list((tmp_path / "cache" / "sqlite").glob("*.sqlite"))
    assert len(templates) == 1
    second = tmp_path / "b" / "second.sqlite"  # a copy of it
    store = open_store(f"sqlite:///{second}")
    store.close()
    monkeypatch.setenv("IRONSIDE_CACHE_DIR", str(tmp_path / "unwritable" / "x"))
    (tmp_path / "unwritable").write_text("a file, not a directory")
    plain = tmp_path / "c" / "plain.sqlite"  # no template possible: migrated in place
    open_store(f"sqlite:///{plain}").close()
    assert _schema(second) == _schema(templates[0]) == _schema(plain) == _schema(first)
