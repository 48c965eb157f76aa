"""Which backend a provider block runs on, built with the engine's file systems.

AWS Batch when ``aws_batch.wiring.is_aws_batch`` says so (its package, which loads
botocore, is imported only then), else the local backend. Called only by the
composition root (``ironside.assembly``).
"""

from __future__ import annotations

from typing import Any

from ironside.backends.base import Backend
from ironside.config import ProviderSettings
from ironside.filesystems.dispatch import FileSystems


def _maybe_aws(provider: ProviderSettings) -> bool:
    """Cheap pre-check (a superset of ``aws_batch.wiring.is_aws_batch``)."""
    return "aws" in f"{provider.name} {provider.actor_factory}".lower()


def is_aws_batch(provider: ProviderSettings) -> bool:
    """Whether ``provider`` runs its tasks on AWS Batch."""
    if not _maybe_aws(provider):
        return False
    from ironside.backends.aws_batch import wiring

    return wiring.is_aws_batch(provider.name, provider.actor_factory)


def make_backend(
    provider: ProviderSettings, batch: Any = None, s3: Any = None
) -> tuple[Backend, FileSystems]:
    """The provider's backend and the file systems that share its S3 client.

    ``BadConfig`` naming the key when the provider block is wrong. ``batch``/``s3``:
    clients to use instead of making them (tests hand in moto's).
    """
    if is_aws_batch(provider):
        from ironside.backends.aws_batch import wiring

        backend = wiring.make_backend(provider.raw, batch=batch, s3=s3)
        return backend, backend.files
    from ironside.backends.local import LocalBackend

    files = FileSystems(s3_client=s3)
    # the backend runs job_limit processes at once; the engine keeps as many more
    # queued in it, so that a slot refills without waiting for the scheduler
    local = LocalBackend(
        provider.run_in_container, name=provider.name, slots=provider.job_limit(), files=files
    )
    if provider.run_in_container == "always":
        local.use_docker("probe")
    return local, files


def engine_job_limit(provider: ProviderSettings) -> int:
    """Jobs the engine keeps started: AWS Batch's concurrent-job-limit, else 4x local slots."""
    if is_aws_batch(provider):
        from ironside.backends.aws_batch import wiring

        return wiring.job_limit(provider.raw)
    return 4 * int(provider.job_limit())
