"""The call cache as the engine uses it: ``lookup`` before running, ``record`` after success.

The store behind it is a small protocol (:class:`CacheStore`): find the valid
entries for an aggregate hash, add one, invalidate one. :class:`InMemoryCacheStore`
implements it for tests; the engine backs it with SQL.

Lookup tries candidates oldest first. For each it checks the hit path
prefixes, duplicates the cached files into the new call's ``cacheCopy``
directory, and on a :class:`DuplicationFailed` invalidates the entry (when
``invalidate-bad-cache-results``) and tries the next, up to
``max-failed-copy-attempts``. No usable candidate means a miss: the call runs.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .duplication import DuplicationFailed, Duplicator
from .fileid import scheme_of
from .hashing import CallHashes, canonical_json
from .options import CallCachingConfig, CallCachingMode

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class CallRef:
    """One call shard: workflow id, fully qualified call name, shard index (-1: no scatter)."""

    workflow_id: str
    call_fqn: str
    shard: int = -1

    def __str__(self) -> str:
        return f"{self.workflow_id}:{self.call_fqn}:{self.shard}"


@dataclass(frozen=True)
class CacheEntry:
    """A successful call's result, reusable by calls with the same aggregate hash.

    ``outputs`` are the call's WDL outputs as JSON values, file outputs as
    paths; ``files`` every file a hit must duplicate (file outputs plus
    ``stdout``, ``stderr``, ``rc``), all normally under ``call_root``.
    ``entry_id`` is assigned by the store.
    """

    call: CallRef
    hashes: CallHashes
    call_root: str
    outputs: Mapping[str, Any]
    files: tuple[str, ...]
    return_code: int | None = 0
    created_at: float = 0.0
    entry_id: int | None = None
    allow_result_reuse: bool = True


def entry_to_row(entry: CacheEntry) -> dict[str, Any]:
    """A flat row for a SQL table (JSON text for outputs, files and component hashes).

    Index ``(aggregate_hash, allow_result_reuse, id)`` serves ``find_entries``.
    """
    return {
        "id": entry.entry_id,
        "aggregate_hash": entry.hashes.aggregate,
        "base_hash": entry.hashes.base,
        "files_hash": entry.hashes.files,
        "hashes": canonical_json(dict(entry.hashes.components)),
        "workflow_id": entry.call.workflow_id,
        "call_fqn": entry.call.call_fqn,
        "shard": entry.call.shard,
        "call_root": entry.call_root,
        "outputs": canonical_json(dict(entry.outputs)),
        "files": canonical_json(list(entry.files)),
        "return_code": entry.return_code,
        "created_at": entry.created_at,
        "allow_result_reuse": entry.allow_result_reuse,
    }


def entry_from_row(row: Mapping[str, Any]) -> CacheEntry:
    """The :class:`CacheEntry` of a row written from :func:`entry_to_row`."""
    hashes = CallHashes(
        components=json.loads(row["hashes"]),
        base=row["base_hash"],
        files=row["files_hash"],
        aggregate=row["aggregate_hash"],
    )
    return CacheEntry(
        call=CallRef(row["workflow_id"], row["call_fqn"], int(row["shard"])),
        hashes=hashes,
        call_root=row["call_root"],
        outputs=json.loads(row["outputs"]),
        files=tuple(json.loads(row["files"])),
        return_code=row["return_code"],
        created_at=float(row["created_at"]),
        entry_id=row["id"],
        allow_result_reuse=bool(row["allow_result_reuse"]),
    )


class CacheStore(Protocol):
    """Where cache entries live (SQL in the engine, a dict in tests)."""

    def find_entries(
        self, aggregate: str, path_prefixes: Sequence[str] | None = None
    ) -> Iterable[CacheEntry]:
        """Valid entries with this aggregate hash, oldest first, optionally only those whose
        ``call_root`` starts with one of ``path_prefixes``. May be lazy."""

    def add_entry(self, entry: CacheEntry) -> CacheEntry:
        """Store an entry; returns it with its ``entry_id``."""

    def invalidate(self, entry: CacheEntry) -> None:
        """Mark an entry unusable (``allow_result_reuse = false``); it is never found again."""


def under_prefixes(path: str, prefixes: Sequence[str] | None) -> bool:
    """Whether ``path`` starts with one of ``prefixes`` (None: any path is allowed)."""
    return prefixes is None or any(path.startswith(prefix) for prefix in prefixes)


class InMemoryCacheStore:
    """A thread-safe :class:`CacheStore` in a dict, for tests and single-run use."""

    def __init__(self) -> None:
        self._by_hash: dict[str, list[int]] = {}
        self._entries: dict[int, CacheEntry] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def find_entries(
        self, aggregate: str, path_prefixes: Sequence[str] | None = None
    ) -> list[CacheEntry]:
        """Valid entries for ``aggregate``, oldest first."""
        with self._lock:
            entries = [self._entries[i] for i in self._by_hash.get(aggregate, [])]
        return [
            e
            for e in entries
            if e.allow_result_reuse and under_prefixes(e.call_root, path_prefixes)
        ]

    def add_entry(self, entry: CacheEntry) -> CacheEntry:
        """Store ``entry`` under its aggregate hash."""
        with self._lock:
            stored = replace(entry, entry_id=next(self._ids))
            self._entries[stored.entry_id or 0] = stored
            self._by_hash.setdefault(entry.hashes.aggregate, []).append(stored.entry_id or 0)
        return stored

    def invalidate(self, entry: CacheEntry) -> None:
        """Mark ``entry`` unusable."""
        with self._lock:
            if entry.entry_id in self._entries:
                current = self._entries[entry.entry_id]
                self._entries[entry.entry_id] = replace(current, allow_result_reuse=False)

    def all_entries(self) -> list[CacheEntry]:
        """Every entry, valid or not (for tests and diagnostics)."""
        with self._lock:
            return list(self._entries.values())


@dataclass(frozen=True)
class HitFailure:
    """A candidate that could not be used, and why."""

    entry: CacheEntry
    reason: str


@dataclass(frozen=True)
class CacheLookup:
    """The outcome of a lookup. On a hit, ``outputs`` point at the duplicated files."""

    mode: CallCachingMode
    hashes: CallHashes | None
    entry: CacheEntry | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    file_mapping: Mapping[str, str] = field(default_factory=dict)
    failures: tuple[HitFailure, ...] = ()
    hash_failure: str | None = None

    @property
    def hit(self) -> bool:
        """Whether a cached result is reused."""
        return self.entry is not None

    @property
    def result(self) -> str:
        """Cromwell's ``callCaching.result`` text."""
        return f"Cache Hit: {self.entry.call}" if self.entry else "Cache Miss"

    def metadata(self) -> dict[str, Any]:
        """The per-call ``callCaching`` metadata object."""
        data: dict[str, Any] = {
            "allowResultReuse": self.mode.writes,
            "effectiveCallCachingMode": self.mode.value,
            "hit": self.hit,
            "result": self.result,
        }
        if self.hashes is not None:
            data["hashes"] = self.hashes.to_metadata()
        if self.failures:
            data["hitFailures"] = [
                {str(f.entry.call): [{"message": f.reason, "causedBy": []}]} for f in self.failures
            ]
        if self.hash_failure:
            data["hashFailures"] = [{"message": self.hash_failure, "causedBy": []}]
        return data


def rewrite_paths(value: Any, mapping: Mapping[str, str]) -> Any:
    """``value`` (WDL output JSON) with every string that is a key of ``mapping`` replaced."""
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list | tuple):
        return [rewrite_paths(item, mapping) for item in value]
    if isinstance(value, Mapping):
        return {key: rewrite_paths(item, mapping) for key, item in value.items()}
    return value


DuplicatorFor = Callable[[str], Duplicator]


class CallCache:
    """Lookup and record of cache entries over a :class:`CacheStore`.

    ``duplicator_for(scheme)`` returns the :class:`Duplicator` for a path
    scheme (``""`` local, ``"s3"``). ``clock`` gives epoch seconds.
    """

    def __init__(
        self,
        store: CacheStore,
        duplicator_for: DuplicatorFor,
        config: CallCachingConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.duplicator_for = duplicator_for
        self.config = config or CallCachingConfig()
        self.clock = clock

    def unavailable(self, mode: CallCachingMode, reason: str) -> CacheLookup:
        """A miss because the call could not be hashed (e.g. no docker digest): caching is off."""
        off = CallCachingMode.OFF if mode is not CallCachingMode.OFF else mode
        return CacheLookup(mode=off, hashes=None, hash_failure=reason)

    def lookup(
        self,
        hashes: CallHashes,
        mode: CallCachingMode,
        dest_root: str,
        hit_path_prefixes: Sequence[str] | None = None,
    ) -> CacheLookup:
        """Find a reusable entry and duplicate its files under ``dest_root``.

        ``dest_root`` is the new call's ``<call root>/cacheCopy``.
        """
        if not mode.reads:
            return CacheLookup(mode=mode, hashes=hashes)
        failures: list[HitFailure] = []
        for entry in self.store.find_entries(hashes.aggregate, hit_path_prefixes):
            if not self._usable(entry, hit_path_prefixes):
                continue
            try:
                mapping = self._duplicate(entry, dest_root)
            except DuplicationFailed as error:
                failures.append(HitFailure(entry, str(error)))
                if self.config.invalidate_bad_cache_results:
                    self.store.invalidate(entry)
                if len(failures) >= self.config.max_failed_copy_attempts:
                    break
                continue
            outputs = rewrite_paths(dict(entry.outputs), mapping)
            return CacheLookup(mode, hashes, entry, outputs, mapping, tuple(failures))
        return CacheLookup(mode=mode, hashes=hashes, failures=tuple(failures))

    def record(
        self,
        call: CallRef,
        hashes: CallHashes | None,
        mode: CallCachingMode,
        succeeded: bool,
        call_root: str,
        outputs: Mapping[str, Any],
        files: Sequence[str],
        return_code: int | None = 0,
    ) -> CacheEntry | None:
        """Write an entry for a finished call; only successful, hashed, writing calls are kept."""
        if not (succeeded and mode.writes and hashes is not None):
            return None
        entry = CacheEntry(
            call=call,
            hashes=hashes,
            call_root=call_root,
            outputs=dict(outputs),
            files=tuple(files),
            return_code=return_code,
            created_at=self.clock(),
        )
        return self.store.add_entry(entry)

    def _usable(self, entry: CacheEntry, prefixes: Sequence[str] | None) -> bool:
        if not entry.allow_result_reuse or not under_prefixes(entry.call_root, prefixes):
            return False
        max_age = self.config.max_result_age_days
        return max_age is None or self.clock() - entry.created_at <= max_age * SECONDS_PER_DAY

    def _duplicate(self, entry: CacheEntry, dest_root: str) -> dict[str, str]:
        """Duplicate the entry's files, grouped by scheme; any failure fails the whole entry."""
        mapping: dict[str, str] = {}
        by_scheme: dict[str, list[str]] = {}
        for path in entry.files:
            by_scheme.setdefault(scheme_of(path), []).append(path)
        for scheme, paths in by_scheme.items():
            try:
                duplicator = self.duplicator_for(scheme)
            except KeyError as error:
                raise DuplicationFailed(paths[0], f"no duplicator for {scheme!r} paths") from error
            mapping.update(duplicator.duplicate(paths, entry.call_root, dest_root))
        return mapping
