"""Client construction: Batch without botocore retries, region from the queue ARN."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from ironside.backends.aws_batch.clients import make_clients
from ironside.backends.aws_batch.settings import AwsBatchSettings, parse_settings


def settings(queue_region: str) -> AwsBatchSettings:
    queue = f"arn:aws:batch:{queue_region}:123456789012:job-queue/q"
    return parse_settings(
        {
            "root": "s3://my-root/x",
            "default-runtime-attributes": {"queueArn": queue, "scriptBucketName": "my-scripts"},
        }
    )


def test_region_comes_from_queue_arn_when_session_has_none(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    batch, s3 = make_clients(settings("eu-west-1"), boto3.session.Session())
    assert batch.meta.region_name == "eu-west-1"
    assert s3.meta.region_name == "eu-west-1"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def test_batch_client_leaves_throttling_to_the_backend(aws: None) -> None:
    batch, s3 = make_clients(settings("us-east-1"), boto3.session.Session(region_name="us-east-1"))
    sent: list[str] = []

    def throttled(request: Any, **_: Any) -> AWSResponse:  # one HTTP attempt
        sent.append(request.url)
        body = b'{"__type": "TooManyRequestsException", "message": "Too Many Requests"}'
        headers = {"x-amzn-ErrorType": "TooManyRequestsException"}
        return AWSResponse(request.url, 429, headers, _Raw(body))

    batch.meta.events.register("before-send.batch.DescribeJobs", throttled)
    with pytest.raises(ClientError, match="TooManyRequestsException"):
        batch.describe_jobs(jobs=["x"])
    assert len(sent) == 1
    assert s3.meta.config.retries["total_max_attempts"] == 6
    assert batch.meta.config.retries["total_max_attempts"] == 1
