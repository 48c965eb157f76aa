"""Test helpers for the AWS Batch backend: an injected clock, an API call counter."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError


class FakeClock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class CallCounter:
    """Counts API calls of a boto3 client by operation (and keeps their parameters)."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.params: dict[str, list[dict[str, Any]]] = {}
        client.meta.events.register("provide-client-params.*.*", self._count)

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls[model.name] += 1
        self.params.setdefault(model.name, []).append(dict(params))


def make_queue(batch: Any, iam: Any, name: str = "default") -> str:
    """An unmanaged compute environment and a job queue on it; returns the queue ARN."""
    role = iam.create_role(
        RoleName=f"batch-service-{name}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    env = batch.create_compute_environment(
        computeEnvironmentName=f"ce-{name}", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    return str(
        batch.create_job_queue(
            jobQueueName=name,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}],
        )["jobQueueArn"]
    )


def aws_error(code: str, status: int, operation: str, message: str = "x") -> ClientError:
    """The error AWS answers ``operation`` with (``code``, HTTP ``status``)."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


def throttled(operation: str) -> ClientError:
    """What AWS answers a caller over its rate."""
    return aws_error("TooManyRequestsException", 429, operation, "Too Many Requests")
