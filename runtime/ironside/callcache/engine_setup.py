"""The call cache of an engine run: config -> SQL store -> ``CallCacheStep``, metadata stored.

``ironside run`` and the server build the step once from :class:`Settings`
(:func:`cache_step_from_settings`) and hand each ``Engine`` a copy whose
``callCaching`` metadata goes into that engine's store (:func:`for_store`)::

    shared = cache_step_from_settings(settings, provider, store.engine)
    Engine(store, backend, limit, cache=for_store(shared, store))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine as SqlEngine

from ironside.config import ProviderSettings, Settings
from ironside.engine.cache_step import CacheHit
from ironside.filesystems.base import FileSystem
from ironside.store.cache_entries import SqlCacheStore, SqlMd5Memo
from ironside.store.db import Store

from .hashing import canonical_json
from .step import CallCacheStep, EngineFingerprint, MetadataSink
from .wiring import build_cache_step


def cache_step_from_settings(
    settings: Settings,
    provider: ProviderSettings,
    db: SqlEngine,
    s3_client: Any = None,
    ecr_client_for_region: Callable[[str], Any] | None = None,
    http: FileSystem | None = None,
) -> CallCacheStep[CacheHit] | None:
    """The configured cache step over the SQL store at ``db``; None when caching is off.

    ``s3_client`` serves ``s3://`` inputs and outputs (ETag identity, server-side
    copies); without one a default boto3 client is made (standard credential
    chain, ``AWS_ENDPOINT_URL`` honoured; it sends nothing until an ``s3://``
    path comes). ``ecr_client_for_region`` enables digests of private ECR images.
    ``http``: identifies ``http(s)://`` inputs (ETag, Last-Modified or URL; default: its own).
    """
    if not settings.call_caching_enabled:
        return None
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    return build_cache_step(
        store=SqlCacheStore(db),
        hit_factory=CacheHit,
        call_caching=settings.call_caching_block,
        docker_hash_lookup=settings.docker_hash_lookup_block,
        backend_config=provider.raw,
        s3_client=s3_client,
        ecr_client_for_region=ecr_client_for_region,
        md5_memo=SqlMd5Memo(db),
        http=http,
    )


def store_sink(store: Store) -> MetadataSink:
    """A metadata sink writing ``callCaching`` into the call's row (batched with its writes)."""

    def sink(fp: EngineFingerprint, call_caching: dict[str, Any]) -> None:
        key = (fp.workflow_id, fp.call_fqn, fp.shard, fp.attempt)
        store.update_call(key, call_caching=canonical_json(call_caching))

    return sink


def for_store(step: CallCacheStep[CacheHit] | None, store: Store) -> CallCacheStep[CacheHit] | None:
    """``step`` writing its metadata into ``store`` (None stays None: no caching)."""
    return step.with_metadata_sink(store_sink(store)) if step is not None else None
