"""The composition root: how the engine is assembled, for ``ironside run`` and the server alike.

Config is read once into ``Settings`` (by the caller); here every client is
built and handed in: the store (two ``Store`` queues over one database: the
API's and the scheduler's), the default provider's backend and the
``FileSystems`` sharing its S3 client, the call-cache step writing into the
scheduler's store. Nothing else in the engine makes a client of its own.
"""

from __future__ import annotations

from typing import Any

from ironside.backends.selection import engine_job_limit, make_backend
from ironside.config import Settings
from ironside.engine.cache_step import CacheStep
from ironside.engine.service import WorkflowService
from ironside.store.db import Store, open_store
from ironside.wdl.reach import Confinement


def build_service(
    settings: Settings,
    *,
    batch: Any = None,
    s3: Any = None,
    max_workflows: int | None = None,
    poll_interval: float = 1.0,
    flush_interval: float = 0.2,
    confinement: Confinement | None = None,
) -> WorkflowService:
    """The engine service for ``settings``' default provider (``BadConfig`` when it cannot be).

    ``batch``/``s3``: AWS clients to use instead of making them (tests hand in moto's).
    ``max_workflows``: overrides ``system.max-concurrent-workflows``.
    ``confinement``: what a submission may reach (default: ``ironside run``'s, the limits of
    ``settings``; the server passes ``Confinement.for_server``).
    """
    provider = settings.provider()
    backend, files = make_backend(provider, batch=batch, s3=s3)
    try:
        store = open_store(settings.database_url)
    except Exception:
        backend.close()
        raise
    engine_store = Store(store.engine)
    return WorkflowService(
        store,
        engine_store,
        backend,
        files,
        root=provider.root,
        job_limit=engine_job_limit(provider),
        default_runtime=provider.default_runtime_attributes,
        cache=_cache_step(settings, engine_store, files),
        max_workflows=max_workflows or settings.max_concurrent_workflows,
        max_system_retries=settings.max_system_retries,
        store_patience=settings.store_patience,
        poll_interval=poll_interval,
        flush_interval=flush_interval,
        on_close=store.close,
        confinement=confinement or Confinement(settings.limits),
    )


def _cache_step(settings: Settings, engine_store: Store, files: Any) -> CacheStep | None:
    """The call-cache step, its metadata written with the scheduler's batch (None: off)."""
    if not settings.call_caching_enabled:
        return None
    # the call-cache package loads botocore: imported only when caching is on
    from ironside.callcache.engine_setup import cache_step_from_settings, for_store

    step = cache_step_from_settings(
        settings, settings.provider(), engine_store.engine, s3_client=files.s3_client
    )
    return for_store(step, engine_store)
