"""Content identity of a call's file inputs, without re-reading what has not changed.

Local files are identified by the MD5 of their bytes, memoised on
``(path, size, mtime_ns)``: an in-process LRU first, then an optional persistent
memo (e.g. a SQL table) shared across engine restarts. Files on any other file
system use what its ``FileSystem.info`` reports (S3: the ETag from HeadObject),
which costs one request and never reads the data.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from ironside.filesystems.base import FileSystem

from .hashing import EMPTY_MD5, canonical_json, md5_hex

MemoKey = tuple[str, int, int]  # (absolute path, size, mtime_ns)

_CHUNK = 1024 * 1024


class PersistentMemo(Protocol):
    """A durable store of MD5s keyed on (path, size, mtime_ns)."""

    def get(self, key: MemoKey) -> str | None:
        """The remembered MD5, or None."""

    def put(self, key: MemoKey, md5: str) -> None:
        """Remember an MD5."""


def md5_of_file(path: str) -> str:
    """MD5 hex of a local file's bytes, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LocalMd5Hasher:
    """MD5 of local files, memoised on path, size and modification time.

    ``hash_file`` is injectable so tests can count how often bytes are read.
    """

    def __init__(
        self,
        capacity: int = 100_000,
        persistent: PersistentMemo | None = None,
        hash_file: Callable[[str], str] = md5_of_file,
    ) -> None:
        self._capacity = capacity
        self._persistent = persistent
        self._hash_file = hash_file
        self._lru: OrderedDict[MemoKey, str] = OrderedDict()
        self._lock = threading.Lock()

    def md5(self, path: str) -> str:
        """The MD5 of ``path``; raises FileNotFoundError when it does not exist."""
        key = self.memo_key(path)
        cached = self._remembered(key)
        if cached is not None:
            return cached
        md5 = self._hash_file(key[0])
        if self._persistent is not None:
            self._persistent.put(key, md5)
        self._remember(key, md5)
        return md5

    @staticmethod
    def memo_key(path: str) -> MemoKey:
        """``(absolute path, size, mtime_ns)`` of ``path`` (follows symlinks)."""
        absolute = os.path.abspath(path)
        stat = os.stat(absolute)
        return absolute, stat.st_size, stat.st_mtime_ns

    def _remembered(self, key: MemoKey) -> str | None:
        with self._lock:
            if key in self._lru:
                self._lru.move_to_end(key)
                return self._lru[key]
        if self._persistent is None:
            return None
        md5 = self._persistent.get(key)
        if md5 is not None:
            self._remember(key, md5)
        return md5

    def _remember(self, key: MemoKey, md5: str) -> None:
        with self._lock:
            self._lru[key] = md5
            self._lru.move_to_end(key)
            while len(self._lru) > self._capacity:
                self._lru.popitem(last=False)


class FileIdentifier:
    """Content identity of any path: local MD5 (memoised) or the file system's content id.

    ``filesystems`` maps a URI scheme (``"s3"``) to its :class:`FileSystem`;
    paths without a scheme are local.
    """

    def __init__(
        self,
        local: LocalMd5Hasher | None = None,
        filesystems: dict[str, FileSystem] | None = None,
    ) -> None:
        self._local = local or LocalMd5Hasher()
        self._filesystems = dict(filesystems or {})

    def identify(self, path: str) -> str:
        """The content identity of ``path``; raises FileNotFoundError when missing."""
        scheme = scheme_of(path)
        if not scheme or scheme == "file":
            local = path.removeprefix("file://")
            if os.path.isdir(local):
                return self._local_directory(local)
            return self._local.md5(local)
        filesystem = self._filesystems.get(scheme)
        if filesystem is None:
            raise ValueError(f"no file system for {scheme}:// paths (call caching needs one)")
        try:
            return filesystem.info(path).content_id
        except FileNotFoundError:
            if scheme != "s3":
                raise
            return self._s3_prefix(filesystem, path)  # a Directory: a key prefix

    def _s3_prefix(self, filesystem: FileSystem, path: str) -> str:
        """MD5 of the sorted (relative key, ETag) pairs under ``path/``; missing when none."""
        prefix = path.rstrip("/") + "/"
        entries = [
            [uri[len(prefix) :], filesystem.info(uri).content_id]
            for uri in sorted(filesystem.list(prefix))
        ]
        if not entries:
            raise FileNotFoundError(path)
        return md5_hex(canonical_json(entries))

    def _local_directory(self, path: str) -> str:
        """MD5 of the sorted (relative path, MD5) pairs of every file under a directory."""
        entries = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                entries.append([os.path.relpath(full, path), self._local.md5(full)])
        return md5_hex(canonical_json(entries))

    def identify_input(self, paths: Sequence[str | None], optional: bool) -> list[str]:
        """Identities of one file input's files; a missing optional file is md5("")."""
        ids = []
        for path in paths:
            if path is None and optional:
                ids.append(EMPTY_MD5)
                continue
            if path is None:
                raise FileNotFoundError("a required file input has no path")
            try:
                ids.append(self.identify(path))
            except FileNotFoundError:
                if not optional:
                    raise
                ids.append(EMPTY_MD5)
        return ids


def scheme_of(path: str) -> str:
    """The URI scheme of ``path`` (``"s3"``), or ``""`` for a plain local path."""
    head, sep, _ = path.partition("://")
    return head.lower() if sep and head.isalnum() else ""
