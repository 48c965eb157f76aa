"""Call-cache entries and the MD5 memo in SQL (SQLite or MySQL), for ``ironside.callcache``.

:class:`SqlCacheStore` implements the call cache's ``CacheStore`` protocol over
the table ``ironside_call_cache_entry`` (migration ``0002``): a lookup is one
indexed query on ``(aggregate_hash, allow_result_reuse, id)``.
:class:`SqlMd5Memo` keeps local files' MD5s across engine restarts, keyed on
``(path, size, mtime_ns)``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import DBAPIError

from ironside.callcache.service import CacheEntry, entry_from_row, entry_to_row
from ironside.store.db import is_transient
from ironside.store.models import metadata

LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql")

CACHE_ENTRIES = Table(
    "ironside_call_cache_entry",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("aggregate_hash", String(32), nullable=False),
    Column("base_hash", String(32), nullable=False),
    Column("files_hash", String(32), nullable=False),
    Column("hashes", LONG_TEXT, nullable=False),
    Column("workflow_id", String(36), nullable=False),
    Column("call_fqn", String(255), nullable=False),
    Column("shard", Integer, nullable=False),
    Column("call_root", String(2048), nullable=False),
    Column("outputs", LONG_TEXT, nullable=False),
    Column("files", LONG_TEXT, nullable=False),
    Column("return_code", Integer),
    Column("created_at", Double, nullable=False),
    Column("allow_result_reuse", Boolean, nullable=False),
    Index("ix_ironside_cache_lookup", "aggregate_hash", "allow_result_reuse", "id"),
)

MD5_MEMO = Table(
    "ironside_md5_memo",
    metadata,
    Column("path_key", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("md5", String(32), nullable=False),
)


class SqlCacheStore:
    """The call cache's ``CacheStore`` in SQL; thread-safe (one short transaction a call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def find_entries(
        self, aggregate: str, path_prefixes: Sequence[str] | None = None
    ) -> list[CacheEntry]:
        """Valid entries for ``aggregate``, oldest first; only under ``path_prefixes`` if given."""
        t = CACHE_ENTRIES
        stmt = select(t).where(t.c.aggregate_hash == aggregate, t.c.allow_result_reuse.is_(True))
        if path_prefixes is not None:
            if not path_prefixes:
                return []
            stmt = stmt.where(
                or_(*[t.c.call_root.startswith(p, autoescape=True) for p in path_prefixes])
            )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(t.c.id)).mappings().all()
        return [entry_from_row(dict(row)) for row in rows]

    def add_entry(self, entry: CacheEntry) -> CacheEntry:
        """Insert ``entry``; returns it with the id the database gave it."""
        row = _insertable(entry)
        with self.engine.begin() as conn:
            result = conn.execute(insert(CACHE_ENTRIES), row)
            entry_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return entry_from_row({**row, "id": entry_id})

    def add_entries(self, entries: Iterable[CacheEntry]) -> int:
        """Insert many entries in one transaction (executemany); returns how many."""
        rows = [_insertable(entry) for entry in entries]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(CACHE_ENTRIES), rows)
        return len(rows)

    def invalidate(self, entry: CacheEntry) -> None:
        """Mark ``entry`` unusable: ``find_entries`` never returns it again."""
        if entry.entry_id is None:
            return
        t = CACHE_ENTRIES
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == entry.entry_id).values(allow_result_reuse=False))

    def all_entries(self) -> list[CacheEntry]:
        """Every entry, valid or not, oldest first (tests and diagnostics)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(CACHE_ENTRIES).order_by(CACHE_ENTRIES.c.id)).mappings()
            return [entry_from_row(dict(row)) for row in rows]


def _insertable(entry: CacheEntry) -> dict[str, Any]:
    row = entry_to_row(entry)
    del row["id"]  # assigned by the database
    return row


def _path_key(path: str) -> str:
    """A fixed-size primary key for a path of any length (SHA-256 hex)."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


class SqlMd5Memo:
    """The call cache's ``PersistentMemo``: MD5s of local files by (path, size, mtime_ns)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: tuple[str, int, int]) -> str | None:
        """The MD5 remembered for this path at this size and mtime, or None."""
        path, size, mtime_ns = key
        t = MD5_MEMO
        stmt = select(t.c.md5).where(
            t.c.path_key == _path_key(path), t.c.size == size, t.c.mtime_ns == mtime_ns
        )
        with self.engine.connect() as conn:
            found = conn.execute(stmt).scalar()
        return str(found) if found is not None else None

    def put(self, key: tuple[str, int, int], md5: str) -> None:
        """Remember (or replace) the MD5 of a path.

        Only a memo: a write that keeps losing to concurrent writers (MySQL deadlock
        1213, lock wait timeout, SQLite ``database is locked``) is retried, then
        dropped; the MD5 is computed again next time.
        """
        for attempt in range(4):
            try:
                self._put(key, md5)
                return
            except DBAPIError as exc:
                if not is_transient(exc) or attempt == 3:
                    if is_transient(exc):
                        return
                    raise
                time.sleep(0.05 * 2**attempt)

    def _put(self, key: tuple[str, int, int], md5: str) -> None:
        path, size, mtime_ns = key
        t = MD5_MEMO
        values = {"size": size, "mtime_ns": mtime_ns, "md5": md5}
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(t).where(t.c.path_key == _path_key(path)).values(**values)
            ).rowcount
            if not changed:  # IGNORE: another engine may have remembered it meanwhile
                stmt = (
                    insert(t)
                    .prefix_with("OR IGNORE", dialect="sqlite")
                    .prefix_with("IGNORE", dialect="mysql")
                )
                conn.execute(stmt, {"path_key": _path_key(path), **values})
