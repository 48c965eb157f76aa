"""boto3 clients configured for this backend, for the engine to create and hand in.

botocore's own retries are turned off on the Batch client: the backend's
adaptive limiter must see every throttling error to slow down, and a hidden
retry would also be a hidden extra API call. S3 keeps botocore's standard
retries (script staging and rc reads are idempotent).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from .settings import AwsBatchSettings


def batch_client_config(max_pool_connections: int = 20) -> Config:
    """Batch: one try per call (the backend retries), a connection pool for pollers."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max_pool_connections,
    )


def s3_client_config(max_pool_connections: int = 20) -> Config:
    """S3: botocore's standard retries."""
    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=max_pool_connections,
    )


def make_clients(
    settings: AwsBatchSettings,
    session: boto3.session.Session | None = None,
    region_name: str | None = None,
) -> tuple[Any, Any]:
    """(batch, s3) clients from ``session`` (default: the standard credential chain).

    ``filesystems.s3.auth`` other than ``default`` names an ``aws.auths`` entry the
    engine resolves into ``session``; the queue ARN's region is used when none is given.
    """
    session = session or boto3.session.Session()
    region = region_name or session.region_name or settings.queue_arn.split(":")[3]
    batch = session.client("batch", region_name=region, config=batch_client_config())
    s3 = session.client("s3", region_name=region, config=s3_client_config())
    return batch, s3
