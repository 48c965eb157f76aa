"""Making a cached call's output files available to the call that hits it.

The strategy comes from ``filesystems.<fs>.caching.duplication-strategy``:

- local: ``hard-link``, ``soft-link``, ``copy``, or a list of them tried in
  order for each file (default ``["hard-link", "soft-link", "copy"]``, as Cromwell);
- S3: ``copy`` (server-side, default) or ``reference`` (no copy: outputs keep
  pointing at the original objects, each checked with HeadObject).

Files under the cached call's root keep their relative place under the new
destination root (the engine passes ``<new call root>/cacheCopy``); files
outside it (e.g. an output that is an input) are referenced where they are.
Anything that cannot be duplicated raises :class:`DuplicationFailed`: the
caller invalidates that cache entry and tries the next one, or runs the call.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from ironside import failpoints
from ironside.errors import BadConfig
from ironside.filesystems.s3 import S3FileSystem

LOCAL_STRATEGIES = ("hard-link", "soft-link", "copy")
S3_STRATEGIES = ("copy", "reference")
DEFAULT_LOCAL = ("hard-link", "soft-link", "copy")
DEFAULT_S3 = ("copy",)


class DuplicationFailed(Exception):
    """A cached output could not be made available; the cache entry should be invalidated."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot duplicate cached output {path}: {reason}")
        self.path = path
        self.reason = reason


class Duplicator(Protocol):
    """Duplicates a cached call's files; returns where each now is."""

    def duplicate(self, files: Sequence[str], src_root: str, dest_root: str) -> dict[str, str]:
        """Map every path in ``files`` to its duplicate (or itself when referenced)."""


def destination(path: str, src_root: str, dest_root: str) -> str | None:
    """Where ``path`` goes under ``dest_root``, or None when it is outside ``src_root``."""
    root = src_root.rstrip("/") + "/"
    if not path.startswith(root):
        return None
    return dest_root.rstrip("/") + "/" + path[len(root) :]


def _hard_link(src: str, dst: str) -> None:
    os.link(src, dst)


def _soft_link(src: str, dst: str) -> None:
    os.symlink(os.path.abspath(src), dst)


def _copy(src: str, dst: str) -> None:
    if os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


_LOCAL_ACTIONS: dict[str, Callable[[str, str], None]] = {
    "hard-link": _hard_link,
    "soft-link": _soft_link,
    "copy": _copy,
}


class LocalDuplicator:
    """Local files: each strategy in order until one works for the file."""

    def __init__(self, strategies: Sequence[str] = DEFAULT_LOCAL) -> None:
        unknown = [s for s in strategies if s not in LOCAL_STRATEGIES]
        if unknown or not strategies:
            raise BadConfig(
                f"local duplication-strategy must be among {list(LOCAL_STRATEGIES)}, "
                f"got {list(strategies)}"
            )
        self.strategies = tuple(strategies)
        #: per file duplicated: the strategy that worked (for metrics and tests)
        self.used: list[str] = []

    def duplicate(self, files: Sequence[str], src_root: str, dest_root: str) -> dict[str, str]:
        """Link or copy each file under ``dest_root``; see the module docstring."""
        mapping = {}
        for path in files:
            if not os.path.lexists(path):
                raise DuplicationFailed(path, "the cached file no longer exists")
            target = destination(path, src_root, dest_root)
            mapping[path] = path if target is None else self._one(path, target)
            failpoints.hit("cache-copy")
        return mapping

    def _one(self, src: str, dst: str) -> str:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        errors = []
        for strategy in self.strategies:
            _remove(dst)
            try:
                _LOCAL_ACTIONS[strategy](src, dst)
            except OSError as error:
                errors.append(f"{strategy}: {error.strerror or error}")
                continue
            self.used.append(strategy)
            return dst
        raise DuplicationFailed(src, "; ".join(errors))


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


class S3Duplicator:
    """S3 objects: server-side ``copy`` or ``reference`` (no copy, existence checked).

    Files are handled ``max_concurrency`` at a time; the first failure fails the lot.
    """

    def __init__(
        self, filesystem: S3FileSystem, strategy: str = "copy", max_concurrency: int = 8
    ) -> None:
        if strategy not in S3_STRATEGIES:
            raise BadConfig(
                f"s3 duplication-strategy must be one of {list(S3_STRATEGIES)}, got {strategy!r}"
            )
        self.filesystem = filesystem
        self.strategy = strategy
        self.max_concurrency = max(1, max_concurrency)

    def duplicate(self, files: Sequence[str], src_root: str, dest_root: str) -> dict[str, str]:
        """Copy (CopyObject / UploadPartCopy) or reference each object."""
        if len(files) <= 1 or self.max_concurrency == 1:
            return dict(self._one(path, src_root, dest_root) for path in files)
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(files)))
        try:
            futures = [pool.submit(self._one, path, src_root, dest_root) for path in files]
            return dict(future.result() for future in futures)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _one(self, path: str, src_root: str, dest_root: str) -> tuple[str, str]:
        target = destination(path, src_root, dest_root)
        try:
            try:
                if self.strategy == "reference" or target is None:
                    if not self.filesystem.exists(path):
                        raise FileNotFoundError(path)
                    return path, path
                self.filesystem.copy(path, target)
                return path, target
            except FileNotFoundError:
                return self._prefix(path, None if self.strategy == "reference" else target)
        except FileNotFoundError as error:
            raise DuplicationFailed(path, "the cached object no longer exists") from error
        except Exception as error:
            raise DuplicationFailed(path, f"{type(error).__name__}: {error}") from error

    def _prefix(self, path: str, target: str | None) -> tuple[str, str]:
        """A WDL Directory output (a key prefix): every object under it copied below
        ``target`` (None: referenced); FileNotFoundError when nothing is under it."""
        prefix = path.rstrip("/") + "/"
        objects = list(self.filesystem.list(prefix))
        if not objects:
            raise FileNotFoundError(path)
        if target is None:
            return path, path
        for uri in objects:
            self.filesystem.copy(uri, target.rstrip("/") + "/" + uri[len(prefix) :])
        return path, target.rstrip("/")


def strategies_from_config(filesystem: str, caching: Mapping[str, Any] | None) -> tuple[str, ...]:
    """``filesystems.<filesystem>.caching.duplication-strategy`` as a tuple, defaults applied."""
    default = DEFAULT_S3 if filesystem == "s3" else DEFAULT_LOCAL
    value = (caching or {}).get("duplication-strategy", default)
    strategies = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(s, str) for s in strategies):
        raise BadConfig(
            f"filesystems.{filesystem}.caching.duplication-strategy must be a string or a list"
        )
    return strategies


def local_duplicator(caching: Mapping[str, Any] | None) -> LocalDuplicator:
    """The local duplicator configured by ``filesystems.local.caching``."""
    return LocalDuplicator(strategies_from_config("local", caching))


def s3_duplicator(filesystem: S3FileSystem, caching: Mapping[str, Any] | None) -> S3Duplicator:
    """The S3 duplicator configured by ``filesystems.s3.caching`` (a single strategy)."""
    strategies = strategies_from_config("s3", caching)
    if len(strategies) != 1:
        raise BadConfig("filesystems.s3.caching.duplication-strategy takes one of copy, reference")
    return S3Duplicator(filesystem, strategies[0])
