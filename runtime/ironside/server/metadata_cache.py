"""A bounded cache of serialized metadata responses of finished workflows.

A workflow in a terminal state no longer changes, except its labels (which
only this server changes, and which invalidate its entries). Polling clients
and dashboards ask for the same large document again and again; the cache
answers them without rebuilding it. Bounded in bytes, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class MetadataCache:
    """LRU of response bodies keyed by (workflow id, view), at most ``max_bytes`` in total."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, Hashable], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, workflow_id: str, view: Hashable) -> bytes | None:
        """The cached body, or ``None``."""
        with self._lock:
            body = self._items.get((workflow_id, view))
            if body is not None:
                self._items.move_to_end((workflow_id, view))
            return body

    def put(self, workflow_id: str, view: Hashable, body: bytes) -> None:
        """Cache ``body`` (ignored when larger than the whole cache)."""
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop((workflow_id, view), None)
            self._size -= len(old) if old is not None else 0
            self._items[(workflow_id, view)] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def invalidate(self, workflow_id: str) -> None:
        """Forget every cached view of a workflow."""
        with self._lock:
            for key in [k for k in self._items if k[0] == workflow_id]:
                self._size -= len(self._items.pop(key))

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size
