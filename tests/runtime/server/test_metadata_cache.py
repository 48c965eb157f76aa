"""The metadata response cache: bounded in bytes, least recently used out, invalidation."""

from __future__ import annotations

from ironside.server.metadata_cache import MetadataCache


def test_lru_eviction_and_bounds() -> None:
    cache = MetadataCache(max_bytes=10)
    cache.put("a", 1, b"12345")
    cache.put("b", 1, b"12345")
    assert cache.get("a", 1) == b"12345"  # "a" now most recently used
    cache.put("c", 1, b"123")
    assert cache.get("b", 1) is None and cache.get("a", 1) == b"12345"
    assert cache.size <= 10
    cache.put("huge", 1, b"x" * 11)
    assert cache.get("huge", 1) is None


def test_invalidate_drops_every_view_of_a_workflow() -> None:
    cache = MetadataCache()
    cache.put("a", "full", b"1")
    cache.put("a", "slim", b"2")
    cache.put("b", "full", b"3")
    cache.invalidate("a")
    assert cache.get("a", "full") is None and cache.get("a", "slim") is None
    assert cache.get("b", "full") == b"3" and cache.size == 1
