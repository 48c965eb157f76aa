"""Call caching with Cromwell's semantics.

The engine's call path uses it in two steps::

    hashed = hasher.hash_call(...)                  # CallHasher: digest + file identities
    mode = effective_mode(config, options, task_meta)
    lookup = cache.lookup(hashed, mode, call_root + "/cacheCopy", options.hit_path_prefixes)
    if lookup.hit: use lookup.outputs            # else run, then:
    cache.record(call, hashed, mode, succeeded, call_root, outputs, files)

and writes ``lookup.metadata()`` under the call's ``callCaching`` metadata key.
:func:`build_cache_step` assembles all of it, from config blocks and injected
clients, into the engine's ``CacheStep`` (:class:`CallCacheStep`).
"""

from .docker import (
    DigestFound,
    DigestUnavailable,
    DockerDigestResolver,
    DockerHashLookupSettings,
    build_resolver,
)
from .duplication import (
    DuplicationFailed,
    Duplicator,
    LocalDuplicator,
    S3Duplicator,
    local_duplicator,
    s3_duplicator,
)
from .fileid import FileIdentifier, LocalMd5Hasher, PersistentMemo
from .hasher import CallHasher, FileInput, HashUnavailable
from .hashing import CallFingerprint, CallHashes, DiffSide, call_hashes, diff_response
from .options import (
    CallCachingConfig,
    CallCachingMode,
    CallCachingOptions,
    effective_mode,
    is_volatile,
)
from .service import CacheEntry, CacheLookup, CacheStore, CallCache, CallRef, InMemoryCacheStore
from .step import CallCacheStep
from .wiring import build_cache_step

__all__ = [
    "CacheEntry",
    "CacheLookup",
    "CacheStore",
    "CallCache",
    "CallCacheStep",
    "CallCachingConfig",
    "CallCachingMode",
    "CallCachingOptions",
    "CallFingerprint",
    "CallHasher",
    "CallHashes",
    "CallRef",
    "DiffSide",
    "DigestFound",
    "DigestUnavailable",
    "DockerDigestResolver",
    "DockerHashLookupSettings",
    "DuplicationFailed",
    "Duplicator",
    "FileIdentifier",
    "FileInput",
    "HashUnavailable",
    "InMemoryCacheStore",
    "LocalDuplicator",
    "LocalMd5Hasher",
    "PersistentMemo",
    "S3Duplicator",
    "build_cache_step",
    "build_resolver",
    "call_hashes",
    "diff_response",
    "effective_mode",
    "is_volatile",
    "local_duplicator",
    "s3_duplicator",
]
