"""Transient database faults as the store tells them apart (deadlocks, locks, lost connections)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from ironside.store.cache_entries import SqlMd5Memo
from ironside.store.db import is_transient, open_store


class _MySQLError(Exception):
    pass


def test_deadlock_lock_wait_and_sqlite_lock_are_transient() -> None:
    assert is_transient(OperationalError("x", {}, _MySQLError(1213, "Deadlock found")))
    assert is_transient(OperationalError("x", {}, _MySQLError(1205, "Lock wait timeout")))
    assert is_transient(OperationalError("x", {}, sqlite3.OperationalError("database is locked")))
    assert not is_transient(OperationalError("x", {}, _MySQLError(1146, "Table doesn't exist")))


def test_md5_memo_write_under_a_held_write_lock_is_dropped_not_raised(tmp_path: Path) -> None:
    """A second connection holds SQLite's write lock: the memo gives up quietly."""
    url = f"sqlite:///{tmp_path}/db.sqlite"
    store = open_store(url)
    memo = SqlMd5Memo(create_engine(url, connect_args={"timeout": 0.05}))
    holder = create_engine(url).connect()
    holder.execute(text("BEGIN IMMEDIATE"))
    try:
        memo.put(("/data/x", 1, 2), "0" * 32)  # must not raise
    finally:
        holder.rollback()
        holder.close()
    memo.put(("/data/x", 1, 2), "a" * 32)
    assert memo.get(("/data/x", 1, 2)) == "a" * 32
    store.close()
