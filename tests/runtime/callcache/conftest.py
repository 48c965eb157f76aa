"""Shared fixtures for the call-cache tests: moto S3 and ECR clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so nothing can reach real AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def s3_client(aws_env: None) -> Iterator[Any]:
    """A moto S3 client with bucket ``b`` created."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="bkt")
        yield client


class OperationCounter:
    """Counts S3 API operations a client issues (botocore event hook)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        client.meta.events.register("before-call.s3.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def count(self, name: str) -> int:
        """How many times operation ``name`` was called."""
        return self.calls.count(name)


@pytest.fixture
def s3_ops(s3_client: Any) -> OperationCounter:
    """Operation counter attached to ``s3_client``."""
    return OperationCounter(s3_client)


@pytest.fixture
def loopback_s3(aws_env: None) -> Iterator[Any]:
    """An S3 client talking HTTP to a moto server on 127.0.0.1, bucket ``bkt`` created."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://{host}:{port}")
        client.create_bucket(Bucket="bkt")
        yield client
    finally:
        server.stop()


@pytest.fixture
def loopback_ops(loopback_s3: Any) -> OperationCounter:
    """Operation counter attached to ``loopback_s3``."""
    return OperationCounter(loopback_s3)
