"""Client construction: Batch without botocore retries, region from the queue ARN."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from ironside.backends.aws_batch.clients import S3_ATTEMPTS, make_clients, s3_client_config
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
    assert s3.meta.config.retries == {"mode": "adaptive", "total_max_attempts": S3_ATTEMPTS}
    assert batch.meta.config.retries["total_max_attempts"] == 1


@pytest.mark.slow  # botocore backs off for real (about 10 s)
def test_s3_client_rides_out_a_bad_day(aws: None) -> None:
    """500s and 503 SlowDown on every call the engine makes: botocore retries them."""
    s3 = boto3.client("s3", region_name="us-east-1", config=s3_client_config())
    s3.create_bucket(Bucket="bad-day")
    failures: dict[str, list[tuple[int, bytes]]] = {}
    slow = (503, b"<Error><Code>SlowDown</Code><Message>x</Message></Error>")
    internal = (500, b"<Error><Code>InternalError</Code><Message>x</Message></Error>")

    def bad_day(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        left = failures.get(event_name.rsplit(".", 1)[-1])
        if not left:
            return None
        status, body = left.pop(0)
        return AWSResponse(request.url, status, {}, _Raw(body))

    s3.meta.events.register("before-send.s3.*", bad_day)
    for op in ("PutObject", "GetObject", "HeadObject", "CopyObject"):
        failures[op] = [internal, slow]
    s3.put_object(Bucket="bad-day", Key="k", Body=b"data")
    assert s3.get_object(Bucket="bad-day", Key="k")["Body"].read() == b"data"
    assert s3.head_object(Bucket="bad-day", Key="k")["ContentLength"] == 4
    s3.copy_object(Bucket="bad-day", Key="k2", CopySource={"Bucket": "bad-day", "Key": "k"})
    assert s3.get_object(Bucket="bad-day", Key="k2")["Body"].read() == b"data"
    assert all(not left for left in failures.values())
