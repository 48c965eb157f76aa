"""CallCache lookup/record over the in-memory store, with real hashing and duplication."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ironside.callcache.duplication import DuplicationFailed, LocalDuplicator
from ironside.callcache.hashing import CallFingerprint, CallHashes, call_hashes
from ironside.callcache.options import CallCachingConfig, CallCachingMode
from ironside.callcache.service import (
    CacheEntry,
    CallCache,
    CallRef,
    InMemoryCacheStore,
    rewrite_paths,
)

RW = CallCachingMode.READ_AND_WRITE


def hashes(command: str = "echo hi") -> CallHashes:
    return call_hashes(CallFingerprint(command, "Local", {"docker": "img@sha256:" + "a" * 64}))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class RecordingDuplicator:
    """Duplicates by renaming paths; fails for entries whose root is in ``broken``."""

    def __init__(self, broken: Sequence[str] = ()) -> None:
        self.broken = set(broken)
        self.calls: list[str] = []

    def duplicate(self, files: Sequence[str], src_root: str, dest_root: str) -> dict[str, str]:
        self.calls.append(src_root)
        if src_root in self.broken:
            raise DuplicationFailed(files[0], "the cached file no longer exists")
        return {f: f.replace(src_root, dest_root) for f in files}


def record(cache: CallCache, wf: str, h: CallHashes, mode: CallCachingMode = RW) -> Any:
    root = f"/exec/{wf}/call-a"
    return cache.record(
        CallRef(wf, "w.a", 0),
        h,
        mode,
        True,
        root,
        {"w.a.out": f"{root}/out.txt", "w.a.n": 3, "w.a.xs": [f"{root}/x1"]},
        [f"{root}/out.txt", f"{root}/x1", f"{root}/stdout"],
    )


def test_miss_then_hit_with_rewritten_outputs_and_metadata() -> None:
    store = InMemoryCacheStore()
    cache = CallCache(store, lambda _: RecordingDuplicator())
    h = hashes()
    miss = cache.lookup(h, RW, "/exec/wf2/call-a/cacheCopy")
    assert not miss.hit and miss.result == "Cache Miss"
    assert miss.metadata()["hashes"]["runtime attribute"]["docker"]
    record(cache, "wf1", h)
    hit = cache.lookup(h, RW, "/exec/wf2/call-a/cacheCopy")
    assert hit.hit and hit.result == "Cache Hit: wf1:w.a:0"
    assert hit.outputs == {
        "w.a.out": "/exec/wf2/call-a/cacheCopy/out.txt",
        "w.a.n": 3,
        "w.a.xs": ["/exec/wf2/call-a/cacheCopy/x1"],
    }
    metadata = hit.metadata()
    assert metadata["allowResultReuse"] is True
    assert metadata["effectiveCallCachingMode"] == "ReadAndWriteCache"
    assert metadata["hit"] is True and metadata["result"] == "Cache Hit: wf1:w.a:0"
    assert not cache.lookup(hashes("echo other"), RW, "/d").hit


def test_only_successful_writing_calls_are_recorded() -> None:
    store = InMemoryCacheStore()
    cache = CallCache(store, lambda _: RecordingDuplicator())
    h = hashes()
    ref = CallRef("wf", "w.a")
    assert cache.record(ref, h, RW, False, "/r", {}, []) is None
    assert cache.record(ref, h, CallCachingMode.READ, True, "/r", {}, []) is None
    assert cache.record(ref, None, RW, True, "/r", {}, []) is None
    assert store.all_entries() == []
    entry = cache.record(ref, h, CallCachingMode.WRITE, True, "/r", {}, [])
    assert entry is not None and entry.entry_id == 1
    assert str(entry.call) == "wf:w.a:-1"


def test_read_disabled_never_looks_up() -> None:
    store = InMemoryCacheStore()
    duplicator = RecordingDuplicator()
    cache = CallCache(store, lambda _: duplicator)
    h = hashes()
    record(cache, "wf1", h)
    for mode in (CallCachingMode.WRITE, CallCachingMode.OFF):
        result = cache.lookup(h, mode, "/d")
        assert not result.hit and result.metadata()["effectiveCallCachingMode"] == mode.value
    assert duplicator.calls == []


def test_failed_duplication_invalidates_and_tries_the_next_candidate() -> None:
    store = InMemoryCacheStore()
    duplicator = RecordingDuplicator(broken=["/exec/wf1/call-a"])
    cache = CallCache(store, lambda _: duplicator)
    h = hashes()
    record(cache, "wf1", h)
    record(cache, "wf2", h)
    hit = cache.lookup(h, RW, "/exec/wf3/call-a/cacheCopy")
    assert hit.result == "Cache Hit: wf2:w.a:0"
    assert duplicator.calls == ["/exec/wf1/call-a", "/exec/wf2/call-a"]
    assert [e.call.workflow_id for e in store.find_entries(h.aggregate)] == ["wf2"]
    failures = hit.metadata()["hitFailures"]
    assert list(failures[0]) == ["wf1:w.a:0"]
    assert "no longer exists" in failures[0]["wf1:w.a:0"][0]["message"]


def test_without_invalidation_bad_entries_stay() -> None:
    store = InMemoryCacheStore()
    config = CallCachingConfig(invalidate_bad_cache_results=False)
    cache = CallCache(store, lambda _: RecordingDuplicator(["/exec/wf1/call-a"]), config)
    h = hashes()
    record(cache, "wf1", h)
    miss = cache.lookup(h, RW, "/d")
    assert not miss.hit and len(miss.failures) == 1
    assert len(store.find_entries(h.aggregate)) == 1


def test_max_failed_copy_attempts_stops_the_search() -> None:
    store = InMemoryCacheStore()
    broken = ["/exec/wf1/call-a", "/exec/wf2/call-a"]
    duplicator = RecordingDuplicator(broken)
    cache = CallCache(store, lambda _: duplicator, CallCachingConfig(max_failed_copy_attempts=1))
    h = hashes()
    for wf in ("wf1", "wf2", "wf3"):
        record(cache, wf, h)
    assert not cache.lookup(h, RW, "/d").hit
    assert duplicator.calls == ["/exec/wf1/call-a"]


def test_hit_path_prefixes_filter_candidates() -> None:
    store = InMemoryCacheStore()
    cache = CallCache(store, lambda _: RecordingDuplicator())
    h = hashes()
    record(cache, "wf1", h)
    assert not cache.lookup(h, RW, "/d", hit_path_prefixes=["/exec/other/"]).hit
    assert cache.lookup(h, RW, "/d", hit_path_prefixes=["/elsewhere", "/exec/wf1/"]).hit


def test_max_result_age() -> None:
    clock = Clock()
    store = InMemoryCacheStore()
    config = CallCachingConfig(max_result_age_days=90)
    cache = CallCache(store, lambda _: RecordingDuplicator(), config, clock=clock)
    h = hashes()
    record(cache, "wf1", h)
    clock.now += 89 * 86400
    assert cache.lookup(h, RW, "/d").hit
    clock.now += 2 * 86400
    assert not cache.lookup(h, RW, "/d").hit


def test_unknown_scheme_is_a_failed_duplication() -> None:
    store = InMemoryCacheStore()

    def duplicators(scheme: str) -> Any:
        return {"": RecordingDuplicator()}[scheme]

    cache = CallCache(store, duplicators)
    h = hashes()
    cache.record(
        CallRef("wf1", "w.a"), h, RW, True, "gs://b/r", {"o": "gs://b/r/o"}, ["gs://b/r/o"]
    )
    result = cache.lookup(h, RW, "/d")
    assert not result.hit and "no duplicator" in result.failures[0].reason


def test_unavailable_hash_turns_caching_off_with_the_reason() -> None:
    cache = CallCache(InMemoryCacheStore(), lambda _: RecordingDuplicator())
    result = cache.unavailable(RW, "ubuntu:nope: manifest not found in docker.io")
    metadata = result.metadata()
    assert metadata["effectiveCallCachingMode"] == "CallCachingOff"
    assert metadata["result"] == "Cache Miss" and metadata["allowResultReuse"] is False
    assert metadata["hashFailures"][0]["message"].startswith("ubuntu:nope")
    assert "hashes" not in metadata


def test_rewrite_paths_nested() -> None:
    value = {"a": ["/x", {"b": "/y"}], "c": 1, "d": "/z"}
    assert rewrite_paths(value, {"/x": "/X", "/y": "/Y"}) == {
        "a": ["/X", {"b": "/Y"}],
        "c": 1,
        "d": "/z",
    }


def test_real_local_duplication_through_the_service(tmp_path: Path) -> None:
    root = tmp_path / "wf1" / "call-a"
    root.mkdir(parents=True)
    (root / "out.txt").write_text("result")
    store = InMemoryCacheStore()
    cache = CallCache(store, lambda _: LocalDuplicator())
    h = hashes()
    cache.record(
        CallRef("wf1", "w.a"),
        h,
        RW,
        True,
        str(root),
        {"w.a.out": str(root / "out.txt")},
        [str(root / "out.txt")],
    )
    dest = tmp_path / "wf2" / "call-a" / "cacheCopy"
    hit = cache.lookup(h, RW, str(dest))
    assert hit.outputs == {"w.a.out": str(dest / "out.txt")}
    assert (dest / "out.txt").read_text() == "result"
    (root / "out.txt").unlink()
    (dest / "out.txt").unlink()
    assert not cache.lookup(h, RW, str(dest)).hit
    assert store.find_entries(h.aggregate) == []
    assert isinstance(store.all_entries()[0], CacheEntry)
    assert not store.all_entries()[0].allow_result_reuse


@pytest.mark.parametrize("threads", [4])
def test_store_is_thread_safe(threads: int) -> None:
    import threading

    store = InMemoryCacheStore()
    cache = CallCache(store, lambda _: RecordingDuplicator())
    h = hashes()

    def work(n: int) -> None:
        for i in range(50):
            record(cache, f"wf{n}-{i}", h)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    ids = [e.entry_id for e in store.all_entries()]
    assert len(ids) == len(set(ids)) == threads * 50


def test_entry_rows_round_trip_through_sqlite() -> None:
    import sqlite3

    from ironside.callcache.service import entry_from_row, entry_to_row

    store = InMemoryCacheStore()
    cache = CallCache(store, lambda _: RecordingDuplicator(), clock=Clock())
    entry = record(cache, "wf1", hashes())
    row = entry_to_row(entry)
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    columns = ", ".join(row)
    db.execute(f"CREATE TABLE cache_entry ({columns})")
    db.execute("CREATE INDEX by_hash ON cache_entry (aggregate_hash, allow_result_reuse, id)")
    db.execute(
        f"INSERT INTO cache_entry VALUES ({', '.join('?' for _ in row)})", list(row.values())
    )
    found = db.execute(
        "SELECT * FROM cache_entry WHERE aggregate_hash = ? AND allow_result_reuse ORDER BY id",
        (entry.hashes.aggregate,),
    ).fetchall()
    assert [entry_from_row(dict(r)) for r in found] == [entry]
