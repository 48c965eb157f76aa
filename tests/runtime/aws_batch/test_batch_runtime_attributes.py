"""Runtime attributes on AWS Batch: normalisation and errors naming attribute and allowed values."""

from __future__ import annotations

from typing import Any

import pytest

from ironside.backends.aws_batch.runtime_attributes import LOCAL_DISK_PATH, Disk, parse_runtime
from ironside.errors import BadRuntimeAttribute

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/default"
BASE = {"docker": "ubuntu:24.04", "queueArn": QUEUE}


def test_defaults() -> None:
    rt = parse_runtime(BASE)
    assert rt.vcpus == 1
    assert rt.memory_mib == 1908  # "2 GB" = 2e9 bytes, rounded up to MiB
    assert rt.gpu_count == 0
    assert rt.disks == (Disk(LOCAL_DISK_PATH),)
    assert rt.retry_attempts == 0
    assert rt.shared_memory_mib == 62  # 64 MB
    assert rt.job_timeout == 0
    assert rt.log_group == "/aws/batch/job"
    assert rt.max_retries == 0


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("cpu", 4, "vcpus", 4),
        ("cpu", "2", "vcpus", 2),
        ("cpu", 1.5, "vcpus", 2),
        ("memory", "4 GiB", "memory_mib", 4096),
        ("memory", "512MB", "memory_mib", 489),
        ("memory", 1073741824, "memory_mib", 1024),
        ("gpuCount", 1, "gpu_count", 1),
        ("disks", "local-disk 100 SSD", "disks", (Disk(LOCAL_DISK_PATH, 100, "SSD"),)),
        (
            "disks",
            "local-disk 10 SSD, /scratch 20 HDD",
            "disks",
            (Disk(LOCAL_DISK_PATH, 10, "SSD"), Disk("/scratch", 20, "HDD")),
        ),
        ("disks", ["/data"], "disks", (Disk(LOCAL_DISK_PATH), Disk("/data"))),
        ("awsBatchRetryAttempts", 10, "retry_attempts", 10),
        ("jobTimeout", 60, "job_timeout", 60),
        ("jobTimeout", 0, "job_timeout", 0),
        ("sharedMemorySize", "1 GiB", "shared_memory_mib", 1024),
        ("logGroupName", "/ironside/tasks", "log_group", "/ironside/tasks"),
        ("failOnStderr", "true", "fail_on_stderr", True),
        ("maxRetries", 3, "max_retries", 3),
        (
            "ulimits",
            [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
            "ulimits",
            (("nofile", 1024, 4096),),
        ),
        (
            "awsBatchEvaluateOnExit",
            [{"action": "retry", "onStatusReason": "Host EC2*"}],
            "evaluate_on_exit",
            ((("action", "RETRY"), ("onStatusReason", "Host EC2*")),),
        ),
    ],
)
def test_valid_values_are_normalised(name: str, value: Any, field: str, expected: Any) -> None:
    assert getattr(parse_runtime({**BASE, name: value}), field) == expected


def test_config_defaults_apply_under_task_values() -> None:
    rt = parse_runtime(
        {"cpu": 8}, {"docker": "alpine:3", "queueArn": QUEUE, "cpu": 2, "memory": "1 GiB"}
    )
    assert (rt.docker, rt.vcpus, rt.memory_mib) == ("alpine:3", 8, 1024)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("docker", "", "container image"),
        ("docker", "ubuntu latest", "container image"),
        ("cpu", 0, "positive number"),
        ("cpu", "two", "positive number"),
        ("cpu", True, "positive number"),
        ("memory", "2 XB", "unit"),
        ("memory", "1 KB", "at least 4 MiB"),
        ("memory", -5, "integer of bytes"),
        ("gpuCount", -1, ">= 0"),
        ("disks", "local-disk 100", "local-disk N SSD"),
        ("disks", "relative/path", "/mount/point"),
        ("disks", "local-disk, local-disk 5 SSD", "no mount point twice"),
        ("queueArn", "my-queue", "job queue ARN"),
        ("awsBatchRetryAttempts", 11, "0 to 10"),
        ("awsBatchRetryAttempts", -1, "0 to 10"),
        ("awsBatchEvaluateOnExit", [{"action": "ignore", "onExitCode": "1"}], "retry|exit"),
        ("awsBatchEvaluateOnExit", [{"action": "retry"}], "at least one condition"),
        ("awsBatchEvaluateOnExit", [{"action": "exit", "onExitCode": "x1"}], "onExitCode"),
        ("awsBatchEvaluateOnExit", "retry", "list of up to 5"),
        ("ulimits", [{"name": "files", "softLimit": 1, "hardLimit": 2}], "nofile"),
        ("ulimits", [{"name": "nofile", "softLimit": 9, "hardLimit": 2}], "softLimit <= hardLimit"),
        ("ulimits", [{"name": "nofile"}], "softLimit"),
        ("sharedMemorySize", "lots", "unit"),
        ("jobTimeout", 30, "0 (no timeout) or an integer of seconds >= 60"),
        ("jobTimeout", -1, ">= 60"),
        ("logGroupName", "bad group!", "CloudWatch log group"),
        ("continueOnReturnCode", "sometimes", "true, false, an integer"),
        ("returnCodes", [0, "x"], "'*'"),
        ("failOnStderr", "maybe", "true or false"),
        ("maxRetries", -2, ">= 0"),
        ("preemptible", "x", ">= 0"),
    ],
)
def test_invalid_value_names_attribute_and_allowed(name: str, value: Any, allowed: str) -> None:
    with pytest.raises(BadRuntimeAttribute) as caught:
        parse_runtime({**BASE, name: value})
    message = str(caught.value)
    assert f"runtime attribute {name}=" in message
    assert allowed in message


def test_missing_docker_is_refused() -> None:
    with pytest.raises(BadRuntimeAttribute, match="docker"):
        parse_runtime({"queueArn": QUEUE})
