"""Which backend a provider block runs on: the one choice ``ironside run`` and the server share.

AWS Batch when ``aws_batch.wiring.is_aws_batch`` says so (its package, which loads
botocore, is imported only then), else the local backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ironside.config import ProviderSettings


def _maybe_aws(provider: ProviderSettings) -> bool:
    """Cheap pre-check (a superset of ``aws_batch.wiring.is_aws_batch``)."""
    return "aws" in f"{provider.name} {provider.actor_factory}".lower()


def is_aws_batch(provider: ProviderSettings) -> bool:
    """Whether ``provider`` runs its tasks on AWS Batch."""
    if not _maybe_aws(provider):
        return False
    from ironside.backends.aws_batch import wiring

    return wiring.is_aws_batch(provider.name, provider.actor_factory)


def make_backend(provider: ProviderSettings) -> Any:
    """The provider's backend (``BadConfig`` naming the key when its block is wrong)."""
    if is_aws_batch(provider):
        from ironside.backends.aws_batch import wiring

        return wiring.make_backend(provider.raw)
    from ironside.backends.local import LocalBackend

    # the backend runs job_limit processes at once; the engine keeps as many more
    # queued in it, so that a slot refills without waiting for the scheduler
    backend = LocalBackend(
        provider.run_in_container, name=provider.name, slots=provider.job_limit()
    )
    if provider.run_in_container == "always":
        backend.use_docker("probe")
    return backend


def engine_job_limit(provider: ProviderSettings) -> int:
    """Jobs the engine keeps started: AWS Batch's concurrent-job-limit, else local slots."""
    if is_aws_batch(provider):
        from ironside.backends.aws_batch import wiring

        return wiring.job_limit(provider.raw)
    return 2 * int(provider.job_limit())


def validate_options(backend: Any, options: Mapping[str, Any]) -> None:
    """The backend's own option checks (AWS Batch: job role, script prefix); ``BadOptions``."""
    check = getattr(backend, "validate_options", None)
    if check is not None:
        check(options)
