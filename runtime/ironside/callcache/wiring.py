"""Assembling the engine's cache step from config blocks and injected clients.

The engine hands over plain mappings (HOCON trees work too) and its clients::

    step = build_cache_step(
        store=sql_cache_store,                      # implements CacheStore
        hit_factory=CacheHit,
        call_caching=tree.get("call-caching", {}),
        docker_hash_lookup=tree.get("docker.hash-lookup", {}),
        backend_config=provider.raw,                # filesystems.<fs>.caching.*
        s3_client=s3,
        ecr_client_for_region=per_region(lambda r: boto3.client("ecr", region_name=r)),
        metadata_sink=write_call_caching_metadata,
    )
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ironside.errors import BadConfig
from ironside.filesystems.base import FileSystem
from ironside.filesystems.http import HttpFileSystem
from ironside.filesystems.s3 import DEFAULT_MULTIPART_THRESHOLD, S3FileSystem

from .docker import (
    DigestLookup,
    DockerDigestResolver,
    DockerHashLookupSettings,
    EcrLookup,
    RegistryV2Lookup,
    dockerhub_credentials,
)
from .duplication import Duplicator, local_duplicator, s3_duplicator
from .fileid import FileIdentifier, LocalMd5Hasher, PersistentMemo
from .hasher import CallHasher
from .options import CallCachingConfig
from .service import CacheStore, CallCache
from .step import CallCacheStep, MetadataSink, local_detritus

H = TypeVar("H")

_SIZE_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
    "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
}  # fmt: skip


def parse_size(value: Any, key: str) -> int:
    """Bytes in a HOCON size (``5368709120``, ``"64 MiB"``, ``"5 GiB"``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _SIZE_UNITS or int(match.group(1)) <= 0:
        raise BadConfig(f"{key} must be a positive size such as '64 MiB', got {value!r}")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def per_region(factory: Callable[[str], Any]) -> Callable[[str], Any]:
    """``factory`` memoised per region (one boto3 client per region, created on first use)."""
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def client(region: str) -> Any:
        with lock:
            if region not in clients:
                clients[region] = factory(region)
            return clients[region]

    return client


def _caching_block(backend_config: Mapping[str, Any] | None, fs: str) -> Mapping[str, Any]:
    filesystems = (backend_config or {}).get("filesystems") or {}
    return (filesystems.get(fs) or {}).get("caching") or {}


def build_duplicators(
    backend_config: Mapping[str, Any] | None, s3: S3FileSystem | None
) -> Callable[[str], Duplicator]:
    """``scheme -> Duplicator`` from ``filesystems.{local,s3}.caching``; KeyError for others."""
    duplicators: dict[str, Duplicator] = {
        "": local_duplicator(_caching_block(backend_config, "local"))
    }
    duplicators["file"] = duplicators[""]
    if s3 is not None:
        duplicators["s3"] = s3_duplicator(s3, _caching_block(backend_config, "s3"))
    return duplicators.__getitem__


def build_s3_filesystem(s3_client: Any, backend_config: Mapping[str, Any] | None) -> S3FileSystem:
    """The S3 file system, honouring ``filesystems.s3.caching.multipart-threshold``."""
    block = _caching_block(backend_config, "s3")
    key = "filesystems.s3.caching.multipart-threshold"
    threshold = parse_size(block.get("multipart-threshold", DEFAULT_MULTIPART_THRESHOLD), key)
    return S3FileSystem(s3_client, multipart_threshold=threshold)


def build_cache_step(
    store: CacheStore,
    hit_factory: Callable[[Mapping[str, Any], str], H],
    call_caching: Mapping[str, Any] | None = None,
    docker_hash_lookup: Mapping[str, Any] | None = None,
    backend_config: Mapping[str, Any] | None = None,
    s3_client: Any = None,
    ecr_client_for_region: Callable[[str], Any] | None = None,
    registry: DigestLookup | None = None,
    md5_memo: PersistentMemo | None = None,
    metadata_sink: MetadataSink | None = None,
    clock: Callable[[], float] = time.time,
    http: FileSystem | None = None,
) -> CallCacheStep[H]:
    """The engine's cache step, fully configured. BadConfig names any wrong key."""
    config = CallCachingConfig.from_config(call_caching)
    s3 = build_s3_filesystem(s3_client, backend_config) if s3_client is not None else None
    remote: dict[str, FileSystem] = {"http": http or HttpFileSystem()}
    remote["https"] = remote["http"]
    if s3 is not None:
        remote["s3"] = s3
    identifier = FileIdentifier(LocalMd5Hasher(persistent=md5_memo), remote)
    resolver = _resolver(docker_hash_lookup, backend_config, ecr_client_for_region, registry)
    cache = CallCache(store, build_duplicators(backend_config, s3), config, clock=clock)
    # stdout/stderr/rc of local call roots (an s3:// call root has none on local disk)
    return CallCacheStep(
        cache, CallHasher(identifier, resolver), hit_factory, metadata_sink, local_detritus
    )


def _resolver(
    docker_hash_lookup: Mapping[str, Any] | None,
    backend_config: Mapping[str, Any] | None,
    ecr_client_for_region: Callable[[str], Any] | None,
    registry: DigestLookup | None,
) -> DockerDigestResolver:
    """Registry API for Docker Hub, ECR Public and others; ECR only with a client factory."""
    settings = DockerHashLookupSettings.from_config(docker_hash_lookup)
    if registry is None:
        token = ((backend_config or {}).get("dockerhub") or {}).get("token")
        credentials = dockerhub_credentials(token)
        registry = RegistryV2Lookup(credentials=credentials, retries=settings.max_retries)
    lookups: dict[str, DigestLookup] = {
        "dockerhub": registry,
        "ecr-public": registry,
        "generic": registry,
    }
    if ecr_client_for_region is not None:
        lookups["ecr"] = EcrLookup(ecr_client_for_region)
    return DockerDigestResolver(settings, lookups)
