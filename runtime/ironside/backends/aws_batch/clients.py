"""boto3 clients configured for this backend, for the engine to create and hand in.

botocore's own retries are turned off on the Batch client: the backend's
adaptive limiter must see every throttling error to slow down, and a hidden
retry would also be a hidden extra API call. S3 uses botocore's adaptive retries
with room to ride out a bad day (500s, 503 SlowDown): every S3 call the engine
makes (GetObject, PutObject, HeadObject, CopyObject) is idempotent, and the
adaptive mode also slows the client down when S3 throttles.
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


#: Tries per S3 call (the first included): at a 10% failure rate, one call in 10**10 fails.
S3_ATTEMPTS = 10


def s3_client_config(max_pool_connections: int = 20) -> Config:
    """S3: botocore's adaptive retries (5xx, SlowDown, throttling), ``S3_ATTEMPTS`` tries."""
    return Config(
        retries={"mode": "adaptive", "total_max_attempts": S3_ATTEMPTS},
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
