"""The engine's cache step, built from the call-cache components.

``ironside.engine.cache_step`` defines what the scheduler calls:
``enabled``, ``lookup(fp) -> hit | None`` before submitting, ``record(fp,
outputs)`` after a success. :class:`CallCacheStep` implements it without
importing the engine: it reads the engine's fingerprint through the structural
:class:`EngineFingerprint` view and builds hits with the ``hit_factory`` the
engine passes (its ``CacheHit``), so the two packages only meet at wiring time::

    step = CallCacheStep(cache, hasher, hit_factory=CacheHit, metadata_sink=write_events)
    Engine(store, backend, job_limit, cache=step)
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from ironside.errors import BadOptions

from .hasher import CallHasher, HashUnavailable
from .hashing import CallHashes
from .options import CallCachingMode, CallCachingOptions, effective_mode
from .service import CacheLookup, CallCache, CallRef

H = TypeVar("H")
AttemptKey = tuple[str, str, int, int]
#: Hashes kept between ``lookup`` and ``record`` for at most this many attempts.
MAX_PENDING = 100_000


class EngineFingerprint(Protocol):
    """What the step reads of the engine's ``CallFingerprint`` (``task_meta`` optional)."""

    @property
    def workflow_id(self) -> str: ...
    @property
    def call_fqn(self) -> str: ...
    @property
    def shard(self) -> int: ...
    @property
    def attempt(self) -> int: ...
    @property
    def command_template(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def runtime(self) -> Mapping[str, Any]: ...
    @property
    def inputs(self) -> Mapping[str, Any]: ...
    @property
    def input_files(self) -> Sequence[str]: ...
    @property
    def output_expressions(self) -> Mapping[str, str]: ...
    @property
    def call_root(self) -> str: ...
    @property
    def options(self) -> Mapping[str, Any]: ...


MetadataSink = Callable[[EngineFingerprint, dict[str, Any]], None]


def _key(fp: EngineFingerprint) -> AttemptKey:
    return fp.workflow_id, fp.call_fqn, fp.shard, fp.attempt


def output_files(outputs: Any, call_root: str) -> list[str]:
    """Every string in ``outputs`` (JSON) that is a path under ``call_root``, in order."""
    root = call_root.rstrip("/") + "/"
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, str) and value.startswith(root) and value not in found:
            found.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)

    visit(outputs)
    return found


def local_detritus(call_root: str) -> list[str]:
    """``stdout``, ``stderr`` and ``rc`` under ``<call_root>/execution`` that exist (local disk)."""
    execution = os.path.join(call_root, "execution")
    names = ("stdout", "stderr", "rc")
    return [os.path.join(execution, n) for n in names if os.path.isfile(os.path.join(execution, n))]


class CallCacheStep(Generic[H]):
    """The engine's ``CacheStep`` over a :class:`CallCache` and a :class:`CallHasher`.

    - ``hit_factory(outputs, source)`` builds the engine's hit object;
    - ``metadata_sink(fp, call_caching)`` receives the ``callCaching`` metadata
      of every lookup (and its update after ``record``);
    - ``detritus(call_root)`` lists extra files a hit must carry along
      (``stdout``, ``stderr``, ``rc`` where the backend writes them).
    """

    def __init__(
        self,
        cache: CallCache,
        hasher: CallHasher,
        hit_factory: Callable[[Mapping[str, Any], str], H],
        metadata_sink: MetadataSink | None = None,
        detritus: Callable[[str], Sequence[str]] = lambda _: (),
    ) -> None:
        self.cache = cache
        self.hasher = hasher
        self.hit_factory = hit_factory
        self.metadata_sink = metadata_sink
        self.detritus = detritus
        self.enabled = cache.config.enabled
        self._pending: OrderedDict[AttemptKey, tuple[CallCachingMode, CallHashes | None]]
        self._pending = OrderedDict()
        self._lock = threading.Lock()

    def with_metadata_sink(self, metadata_sink: MetadataSink | None) -> CallCacheStep[H]:
        """A step sharing this one's cache and hasher, writing metadata to ``metadata_sink``.

        The server builds one step and gives each workflow run its own sink (its store).
        """
        return CallCacheStep(
            self.cache, self.hasher, self.hit_factory, metadata_sink, self.detritus
        )

    def lookup(self, fp: EngineFingerprint) -> H | None:
        """Hash the call and look it up; a hit's outputs point at the duplicated files."""
        result = self._lookup(fp)
        with self._lock:
            self._pending[_key(fp)] = (result.mode, result.hashes)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        self._emit(fp, result.metadata())
        if result.entry is None:
            return None
        return self.hit_factory(result.outputs, str(result.entry.call))

    def record(self, fp: EngineFingerprint, outputs: Mapping[str, Any]) -> None:
        """Record a successful call (skipped when not writing or not hashable)."""
        with self._lock:
            pending = self._pending.pop(_key(fp), None)
        mode, hashes = pending if pending else (self._mode(fp), None)
        if pending is None and mode.writes:
            computed = self._hash(fp)
            hashes = computed if isinstance(computed, CallHashes) else None
        files = output_files(outputs, fp.call_root) + list(self.detritus(fp.call_root))
        call = CallRef(fp.workflow_id, fp.call_fqn, fp.shard)
        self.cache.record(call, hashes, mode, True, fp.call_root, outputs, files)

    def discard(self, fp: EngineFingerprint) -> None:
        """Forget the hashes kept for an attempt that failed (``record`` will not come)."""
        with self._lock:
            self._pending.pop(_key(fp), None)

    def _lookup(self, fp: EngineFingerprint) -> CacheLookup:
        try:
            options = CallCachingOptions.from_workflow_options(fp.options)
        except BadOptions as error:
            return self.cache.unavailable(CallCachingMode.OFF, str(error))
        mode = effective_mode(self.cache.config, options, getattr(fp, "task_meta", None))
        if mode is CallCachingMode.OFF:
            return CacheLookup(mode=mode, hashes=None)
        hashes = self._hash(fp)
        if isinstance(hashes, HashUnavailable):
            return self.cache.unavailable(mode, hashes.reason)
        dest = fp.call_root.rstrip("/") + "/cacheCopy"
        return self.cache.lookup(hashes, mode, dest, options.hit_path_prefixes)

    def _mode(self, fp: EngineFingerprint) -> CallCachingMode:
        try:
            options = CallCachingOptions.from_workflow_options(fp.options)
        except BadOptions:
            return CallCachingMode.OFF
        return effective_mode(self.cache.config, options, getattr(fp, "task_meta", None))

    def _hash(self, fp: EngineFingerprint) -> CallHashes | HashUnavailable:
        return self.hasher.hash_json_call(
            fp.command_template,
            fp.backend,
            fp.runtime,
            fp.inputs,
            fp.input_files,
            fp.output_expressions,
        )

    def _emit(self, fp: EngineFingerprint, metadata: dict[str, Any]) -> None:
        if self.metadata_sink is not None:
            self.metadata_sink(fp, metadata)
