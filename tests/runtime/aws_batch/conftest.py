"""moto fixtures for the AWS Batch backend: a queue, a script bucket, a root bucket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from .batch_helpers import FakeClock, make_queue

REGION = "us-east-1"
SCRIPT_BUCKET = "ironside-scripts"
ROOT_BUCKET = "ironside-root"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for all services; Batch without Docker (jobs finish at submission)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield


@pytest.fixture
def batch(aws: None) -> Any:
    """A moto Batch client."""
    return boto3.client("batch", region_name=REGION)


@pytest.fixture
def s3(aws: None) -> Any:
    """A moto S3 client with the script and root buckets created."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=SCRIPT_BUCKET)
    client.create_bucket(Bucket=ROOT_BUCKET)
    return client


@pytest.fixture
def queue_arn(batch: Any) -> str:
    """The default job queue's ARN."""
    return make_queue(batch, boto3.client("iam", region_name=REGION))


@pytest.fixture
def config(queue_arn: str) -> dict[str, Any]:
    """A minimal valid ``backend.providers.AWSBatch.config`` subtree."""
    return {
        "root": f"s3://{ROOT_BUCKET}/cromwell-execution",
        "default-runtime-attributes": {"queueArn": queue_arn, "scriptBucketName": SCRIPT_BUCKET},
        "numSubmitAttempts": 4,
        "numCreateDefinitionAttempts": 3,
        "submit-rate": 10000,  # the injected clock stands still: a bucket for a thousand jobs
    }


@pytest.fixture
def clock() -> FakeClock:
    """An injected clock and sleeper."""
    return FakeClock()
