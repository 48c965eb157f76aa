"""From a config provider block to a working ``AwsBatchBackend``.

``backend.providers.<name>`` is AWS Batch when its ``actor-factory`` names
Cromwell's AWS Batch factory (``...aws.AwsBatchBackendLifecycleActorFactory``)
or, without a factory, when its name is ``AWSBatch``/``AwsBatch``. The backend's
composition root hands the backend's S3 client to the engine's ``FileSystems`` too,
so every ``s3://`` read goes to the same endpoint with the same credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ironside.errors import BadConfig

from .backend import AwsBatchBackend
from .clients import make_clients
from .settings import parse_settings

#: The job limit when ``concurrent-job-limit`` is not set (Batch queues jobs itself).
DEFAULT_JOB_LIMIT = 1000


def is_aws_batch(name: str, actor_factory: str) -> bool:
    """Whether a provider block configures AWS Batch."""
    factory = actor_factory.lower()
    if factory:
        return "awsbatch" in factory or ".aws." in factory
    return name.lower() in ("awsbatch", "aws_batch", "aws-batch", "aws")


def job_limit(config: Mapping[str, Any]) -> int:
    """How many jobs the engine keeps submitted at once."""
    value = config.get("concurrent-job-limit") or 0
    return int(value) if int(value) > 0 else DEFAULT_JOB_LIMIT


def make_backend(
    config: Mapping[str, Any], *, batch: Any = None, s3: Any = None, **kwargs: Any
) -> AwsBatchBackend:
    """Settings parsed (``BadConfig`` naming the key), clients made unless given, backend."""
    settings = parse_settings(config)
    if batch is None or s3 is None:
        try:
            made_batch, made_s3 = make_clients(settings)
        except Exception as exc:  # botocore: no region, bad profile ...
            raise BadConfig(f"AWS Batch: cannot create AWS clients: {exc}") from None
        batch = batch or made_batch
        s3 = s3 or made_s3
    return AwsBatchBackend(settings, batch=batch, s3=s3, **kwargs)
