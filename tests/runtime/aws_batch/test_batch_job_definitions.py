"""Job definitions: identity without cpu/memory, memo, lookup before register, throttling."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ironside.backends.aws_batch.job_definitions import (
    AWS_CLI,
    FETCH_AND_RUN,
    DefinitionSpec,
    JobDefinitions,
)
from ironside.backends.aws_batch.runtime_attributes import parse_runtime
from ironside.backends.aws_batch.throttle import AdaptiveRateLimiter
from ironside.backends.base import SubmitLater

from .batch_helpers import CallCounter, FakeClock, aws_error, throttled

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/default"
ROLE = "arn:aws:iam::123456789012:role/JobRole"


def spec_for(**runtime: Any) -> DefinitionSpec:
    rt = parse_runtime({"docker": "ubuntu:24.04", "queueArn": QUEUE, **runtime})
    return DefinitionSpec.for_call(rt.docker, ROLE, rt)


def definitions(batch: Any, clock: FakeClock, attempts: int = 3) -> JobDefinitions:
    limiter = AdaptiveRateLimiter(100.0, clock=clock, sleep=clock.sleep)
    return JobDefinitions(batch, attempts=attempts, limiter=limiter)


def test_cpu_memory_gpu_never_change_identity() -> None:
    base = spec_for()
    assert spec_for(cpu=16, memory="64 GiB", gpuCount=2) == base
    assert spec_for(cpu=16).name() == base.name()


def test_what_a_definition_fixes_changes_identity() -> None:
    base = spec_for()
    variants = [
        spec_for(docker="ubuntu:22.04"),
        spec_for(disks="local-disk, /scratch"),
        spec_for(ulimits=[{"name": "nofile", "softLimit": 1, "hardLimit": 2}]),
        spec_for(sharedMemorySize="1 GiB"),
        spec_for(logGroupName="/other"),
        spec_for(awsBatchRetryAttempts=2),
        spec_for(jobTimeout=3600),
        dataclasses.replace(base, job_role_arn="arn:aws:iam::123456789012:role/Other"),
    ]
    names = {v.name() for v in variants}
    assert len(names) == len(variants)
    assert base.name() not in names


def test_name_is_safe_and_bounded() -> None:
    spec = spec_for(docker="123456789012.dkr.ecr.us-east-1.amazonaws.com/" + "x" * 200 + ":1")
    name = spec.name()
    assert name.startswith("ironside-123456789012_dkr_ecr")
    assert len(name) <= 128
    assert all(c.isalnum() or c in "_-" for c in name)


def test_register_request_has_placeholders_and_host_mounts() -> None:
    request = spec_for(jobTimeout=120, awsBatchRetryAttempts=3).register_request()
    container = request["containerProperties"]
    assert container["command"] == [FETCH_AND_RUN]
    assert container["jobRoleArn"] == ROLE
    assert {r["type"]: r["value"] for r in container["resourceRequirements"]} == {
        "VCPU": "1",
        "MEMORY": "128",
    }
    mounts = {m["containerPath"]: m["readOnly"] for m in container["mountPoints"]}
    assert mounts == {FETCH_AND_RUN: True, AWS_CLI: True, "/cromwell_root": False}
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/aws/batch/job"
    assert request["retryStrategy"] == {"attempts": 3}
    assert request["timeout"] == {"attemptDurationSeconds": 120}


def test_registered_once_then_memoised(batch: Any, clock: FakeClock) -> None:
    counter = CallCounter(batch)
    defs = definitions(batch, clock)
    arn = defs.arn_for(spec_for())
    assert defs.arn_for(spec_for(cpu=8)) == arn
    assert counter.calls["DescribeJobDefinitions"] == 1
    assert counter.calls["RegisterJobDefinition"] == 1


def test_existing_definition_is_found_not_registered(batch: Any, clock: FakeClock) -> None:
    first = definitions(batch, clock).arn_for(spec_for())
    counter = CallCounter(batch)
    again = definitions(batch, clock).arn_for(spec_for())  # a restarted engine
    assert again == first
    assert counter.calls["RegisterJobDefinition"] == 0
    assert counter.calls["DescribeJobDefinitions"] == 1


def test_inactive_definitions_are_ignored(batch: Any, clock: FakeClock) -> None:
    first = definitions(batch, clock).arn_for(spec_for())
    batch.deregister_job_definition(jobDefinition=first)
    second = definitions(batch, clock).arn_for(spec_for())
    assert second != first
    assert second.endswith(":2")


def _answers(batch: Any, operation: str, errors: list[ClientError]) -> None:
    """``operation`` answers each of ``errors`` in turn, then goes through."""

    def fail(**_: Any) -> None:
        if errors:
            raise errors.pop(0)

    batch.meta.events.register(f"before-call.batch.{operation}", fail)


def test_throttled_register_hands_back_without_waiting(batch: Any, clock: FakeClock) -> None:
    """Throttling never sleeps on the scheduler's thread and never fails the call."""
    _answers(batch, "RegisterJobDefinition", [throttled("RegisterJobDefinition")] * 5)
    limiter = AdaptiveRateLimiter(100.0, clock=clock, sleep=clock.sleep)
    defs = JobDefinitions(batch, attempts=2, limiter=limiter)
    for _ in range(5):  # more throttled answers than attempts: still only "later"
        with pytest.raises(SubmitLater, match="throttled"):
            defs.arn_for(spec_for())
    assert limiter.rate < 100.0 and not clock.sleeps
    assert defs.arn_for(spec_for()).startswith("arn:aws:batch:")


def test_server_errors_fail_after_the_attempts(batch: Any, clock: FakeClock) -> None:
    """A 5xx is asked again later, ``numCreateDefinitionAttempts`` times in a row at most."""
    errors = [aws_error("ServerException", 500, "DescribeJobDefinitions")] * 3
    _answers(batch, "DescribeJobDefinitions", errors)
    defs = definitions(batch, clock, attempts=3)
    for _ in range(2):
        with pytest.raises(SubmitLater, match="tried again"):
            defs.arn_for(spec_for())
    with pytest.raises(ClientError, match="ServerException"):
        defs.arn_for(spec_for())
    assert not clock.sleeps
