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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: where each public name lives (imported on first use: the package loads botocore)
_EXPORTS = {
    "CacheEntry": ".service",
    "CacheLookup": ".service",
    "CacheStore": ".service",
    "CallCache": ".service",
    "CallCacheStep": ".step",
    "CallCachingConfig": ".options",
    "CallCachingMode": ".options",
    "CallCachingOptions": ".options",
    "CallFingerprint": ".hashing",
    "CallHasher": ".hasher",
    "CallHashes": ".hashing",
    "CallRef": ".service",
    "DiffSide": ".hashing",
    "DigestFound": ".docker",
    "DigestUnavailable": ".docker",
    "DockerDigestResolver": ".docker",
    "DockerHashLookupSettings": ".docker",
    "DuplicationFailed": ".duplication",
    "Duplicator": ".duplication",
    "FileIdentifier": ".fileid",
    "FileInput": ".hasher",
    "HashUnavailable": ".hasher",
    "InMemoryCacheStore": ".service",
    "LocalDuplicator": ".duplication",
    "LocalMd5Hasher": ".fileid",
    "PersistentMemo": ".fileid",
    "S3Duplicator": ".duplication",
    "build_cache_step": ".wiring",
    "build_resolver": ".docker",
    "call_hashes": ".hashing",
    "diff_response": ".hashing",
    "effective_mode": ".options",
    "is_volatile": ".options",
    "local_duplicator": ".duplication",
    "s3_duplicator": ".duplication",
}

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


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (``ironside.callcache.diff`` stays light)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
