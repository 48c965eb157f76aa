"""The SQL ``CacheStore`` and MD5 memo, on SQLite and (when configured) MySQL."""

from __future__ import annotations

from sqlalchemy import inspect

from ironside.callcache.hashing import CallHashes
from ironside.callcache.service import CacheEntry, CallRef
from ironside.store import open_store
from ironside.store.cache_entries import SqlCacheStore, SqlMd5Memo


def _entry(aggregate: str, root: str, n: int = 0) -> CacheEntry:
    hashes = CallHashes({"command template": "c" * 32}, "b" * 32, "f" * 32, aggregate)
    return CacheEntry(
        call=CallRef(f"wf-{n}", "w.t", n),
        hashes=hashes,
        call_root=root,
        outputs={"out": f"{root}/out.txt", "n": [1, 2]},
        files=(f"{root}/out.txt", f"{root}/execution/rc"),
        created_at=1_700_000_000.25 + n,
    )


def test_add_find_invalidate_round_trip(db_url: str) -> None:
    """Entries come back oldest first and equal to what was stored; invalidated ones never."""
    store = open_store(db_url)
    cache = SqlCacheStore(store.engine)
    first = cache.add_entry(_entry("a" * 32, "/x/call-t", 1))
    second = cache.add_entry(_entry("a" * 32, "/y/call-t", 2))
    cache.add_entry(_entry("9" * 32, "/x/call-u", 3))
    assert first.entry_id is not None and second.entry_id is not None
    found = cache.find_entries("a" * 32)
    assert [e.entry_id for e in found] == [first.entry_id, second.entry_id]
    assert found[0] == first and found[0].outputs["n"] == [1, 2]
    assert found[0].created_at == 1_700_000_001.25
    cache.invalidate(first)
    assert [e.entry_id for e in cache.find_entries("a" * 32)] == [second.entry_id]
    assert not [e for e in cache.all_entries() if e.entry_id == first.entry_id][
        0
    ].allow_result_reuse
    assert cache.find_entries("0" * 32) == []
    store.close()


def test_path_prefix_filter_is_a_literal_prefix(db_url: str) -> None:
    """``call_cache_hit_path_prefixes``: LIKE wildcards in a prefix match only themselves."""
    store = open_store(db_url)
    cache = SqlCacheStore(store.engine)
    cache.add_entry(_entry("a" * 32, "/runs/a_b/call-t", 1))
    cache.add_entry(_entry("a" * 32, "/runs/aXb/call-t", 2))
    cache.add_entry(_entry("a" * 32, "/other/100%/call-t", 3))
    roots = [e.call_root for e in cache.find_entries("a" * 32, ["/runs/a_b"])]
    assert roots == ["/runs/a_b/call-t"]
    roots = [e.call_root for e in cache.find_entries("a" * 32, ["/runs/", "/other/100%"])]
    assert len(roots) == 3
    assert cache.find_entries("a" * 32, []) == []
    store.close()


def test_batch_insert_and_lookup_index(db_url: str) -> None:
    """``add_entries`` writes many rows at once; the lookup index exists."""
    store = open_store(db_url)
    cache = SqlCacheStore(store.engine)
    count = cache.add_entries(_entry(f"{i:032x}", f"/r/{i}", i) for i in range(50))
    assert count == 50
    assert [e.call.shard for e in cache.find_entries(f"{7:032x}")] == [7]
    indexes = inspect(store.engine).get_indexes("ironside_call_cache_entry")
    lookup = [ix for ix in indexes if ix["name"] == "ix_ironside_cache_lookup"]
    assert lookup and lookup[0]["column_names"] == ["aggregate_hash", "allow_result_reuse", "id"]
    store.close()


def test_md5_memo_keys_on_size_and_mtime(db_url: str) -> None:
    """The memo answers only for the same path, size and mtime; ``put`` replaces."""
    store = open_store(db_url)
    memo = SqlMd5Memo(store.engine)
    long_path = "/data/" + "d" * 3000 + "/f.bam"
    assert memo.get((long_path, 10, 5)) is None
    memo.put((long_path, 10, 5), "1" * 32)
    memo.put((long_path, 10, 5), "1" * 32)
    assert memo.get((long_path, 10, 5)) == "1" * 32
    assert memo.get((long_path, 11, 5)) is None
    memo.put((long_path, 11, 6), "2" * 32)
    assert memo.get((long_path, 11, 6)) == "2" * 32
    assert memo.get((long_path, 10, 5)) is None
    store.close()
