"""Runtime attributes of a task on AWS Batch, validated before anything is submitted.

``parse_runtime`` merges the task's evaluated attributes over the config's
``default-runtime-attributes`` and the built-in defaults, and raises
``BadRuntimeAttribute`` naming the attribute and the values it accepts. A task with
``gpuCount > 0`` that names no ``queueArn`` goes to ``gpuQueueArn`` when the config's
defaults set one (the kit's GPU queue).
Attributes this backend does not know are left to the engine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ironside.errors import BadRuntimeAttribute

from . import values

ULIMIT_NAMES = frozenset(
    "core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime "
    "sigpending stack".split()
)
DEFAULTS: Mapping[str, Any] = {
    "cpu": 1,
    "memory": "2 GB",
    "gpuCount": 0,
    "disks": "local-disk",
    "awsBatchRetryAttempts": 0,
    "sharedMemorySize": "64 MB",
    "jobTimeout": 0,
    "logGroupName": "/aws/batch/job",
    "failOnStderr": False,
    "maxRetries": 0,
    "preemptible": 0,
}
LOCAL_DISK_PATH = "/cromwell_root"
_DISK = re.compile(r"^(local-disk|/[A-Za-z0-9_./-]*)(?:\s+(\d+)\s+(SSD|HDD|LOCAL))?$")
_LOG_GROUP = re.compile(r"^[A-Za-z0-9._/#-]{1,512}$")
_EXIT_CODE = re.compile(r"^[0-9]{1,512}\*?$|^\*$")


@dataclass(frozen=True)
class Disk:
    """One ``disks`` entry: where it is mounted in the container (size/type are advisory)."""

    mount_point: str
    size_gb: int | None = None
    kind: str | None = None


@dataclass(frozen=True)
class BatchRuntime:
    """The validated, normalised runtime attributes of one call attempt."""

    docker: str
    vcpus: int
    memory_mib: int
    gpu_count: int
    disks: tuple[Disk, ...]
    queue_arn: str
    retry_attempts: int
    evaluate_on_exit: tuple[tuple[tuple[str, str], ...], ...]  # hashable [{key: value}]
    ulimits: tuple[tuple[str, int, int], ...]  # (name, soft, hard)
    shared_memory_mib: int
    job_timeout: int
    log_group: str
    fail_on_stderr: bool
    max_retries: int
    preemptible: int


def _bad(name: str, value: Any, allowed: str) -> BadRuntimeAttribute:
    return BadRuntimeAttribute(f"runtime attribute {name}={value!r} is invalid; allowed: {allowed}")


def _check(name: str, value: Any, parse: Callable[[Any], Any], allowed: str) -> Any:
    try:
        return parse(value)
    except (ValueError, TypeError, KeyError):
        raise _bad(name, value, allowed) from None


def _docker(value: Any) -> str:
    if isinstance(value, list) and value:  # WDL allows a list of candidates: the first wins
        value = value[0]
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ValueError(value)
    return value.strip()


def _vcpus(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value)
    if not number > 0 or math.isinf(number):
        raise ValueError(value)
    return math.ceil(number)


def _memory(value: Any) -> int:
    mib = values.mebibytes(value)
    if mib < 4:
        raise ValueError(value)
    return mib


def _disks(value: Any) -> tuple[Disk, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    disks: list[Disk] = []
    for item in items:
        m = _DISK.match(str(item).strip())
        if not m:
            raise ValueError(item)
        mount = LOCAL_DISK_PATH if m.group(1) == "local-disk" else m.group(1)
        size = int(m.group(2)) if m.group(2) else None
        disks.append(Disk(mount, size, m.group(3)))
    if not any(d.mount_point == LOCAL_DISK_PATH for d in disks):
        disks.insert(0, Disk(LOCAL_DISK_PATH))
    if len({d.mount_point for d in disks}) != len(disks):
        raise ValueError(value)
    return tuple(disks)


def _evaluate_on_exit(value: Any) -> tuple[tuple[tuple[str, str], ...], ...]:
    if not isinstance(value, list) or len(value) > 5:
        raise ValueError(value)
    rules = []
    for rule in value:
        if not isinstance(rule, Mapping) or str(rule.get("action", "")).lower() not in (
            "retry",
            "exit",
        ):
            raise ValueError(rule)
        unknown = set(rule) - {"action", "onExitCode", "onReason", "onStatusReason"}
        if unknown or len(rule) < 2:
            raise ValueError(rule)
        if "onExitCode" in rule and not _EXIT_CODE.match(str(rule["onExitCode"])):
            raise ValueError(rule)
        items = {k: str(v) for k, v in rule.items()}
        items["action"] = items["action"].upper()
        rules.append(tuple(sorted(items.items())))
    return tuple(rules)


def _ulimits(value: Any) -> tuple[tuple[str, int, int], ...]:
    if not isinstance(value, list):
        raise ValueError(value)
    limits = []
    for item in value:
        name = item["name"]
        soft = values.integer(item["softLimit"], low=0)
        hard = values.integer(item["hardLimit"], low=0)
        if (
            name not in ULIMIT_NAMES
            or soft > hard
            or set(item) != {"name", "softLimit", "hardLimit"}
        ):
            raise ValueError(item)
        limits.append((name, soft, hard))
    return tuple(sorted(limits))


def _timeout(value: Any) -> int:
    seconds = values.integer(value, low=0)
    if 0 < seconds < 60:
        raise ValueError(value)
    return seconds


def _log_group(value: Any) -> str:
    if not isinstance(value, str) or not _LOG_GROUP.match(value):
        raise ValueError(value)
    return value


def _return_codes(value: Any) -> Any:
    if isinstance(value, bool) or value == "*":
        return value
    if isinstance(value, list):
        return [values.integer(v) for v in value]
    return values.integer(value)


_ALLOWED = {
    "docker": "a container image reference, e.g. 'ubuntu:24.04' (required on AWS Batch)",
    "cpu": "a positive number of vCPUs (fractions are rounded up)",
    "memory": values.MEMORY_FORMS + ", at least 4 MiB",
    "gpuCount": "an integer >= 0",
    "disks": "'local-disk', 'local-disk N SSD|HDD|LOCAL', '/mount/point [N SSD|HDD|LOCAL]', "
    "comma-separated or a list, no mount point twice",
    "queueArn": "a job queue ARN arn:<partition>:batch:<region>:<12 digits>:job-queue/<name>",
    "gpuQueueArn": "a job queue ARN (where tasks with gpuCount > 0 go unless they name queueArn)",
    "awsBatchRetryAttempts": "an integer from 0 to 10",
    "awsBatchEvaluateOnExit": "a list of up to 5 objects {action: retry|exit, "
    "onExitCode, onReason, onStatusReason} with action and at least one condition",
    "ulimits": "a list of {name, softLimit, hardLimit} with softLimit <= hardLimit and name one of "
    + ", ".join(sorted(ULIMIT_NAMES)),
    "sharedMemorySize": values.MEMORY_FORMS,
    "jobTimeout": "0 (no timeout) or an integer of seconds >= 60",
    "logGroupName": "a CloudWatch log group name (1-512 of A-Z a-z 0-9 . _ / # -)",
    "continueOnReturnCode": "true, false, an integer or a list of integers",
    "returnCodes": "'*', an integer or a list of integers",
    "failOnStderr": "true or false",
    "maxRetries": "an integer >= 0",
    "preemptible": "an integer >= 0 (Spot reclaims retried)",
}
_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "docker": _docker,
    "cpu": _vcpus,
    "memory": _memory,
    "gpuCount": lambda v: values.integer(v, low=0),
    "disks": _disks,
    "queueArn": values.queue_arn,
    "gpuQueueArn": values.queue_arn,
    "awsBatchRetryAttempts": lambda v: values.integer(v, low=0, high=10),
    "awsBatchEvaluateOnExit": _evaluate_on_exit,
    "ulimits": _ulimits,
    "sharedMemorySize": values.mebibytes,
    "jobTimeout": _timeout,
    "logGroupName": _log_group,
    "continueOnReturnCode": _return_codes,
    "returnCodes": _return_codes,
    "failOnStderr": values.boolean,
    "maxRetries": lambda v: values.integer(v, low=0),
    "preemptible": lambda v: values.integer(v, low=0),
}


def parse_runtime(
    runtime: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> BatchRuntime:
    """Validate and normalise a call's runtime attributes (task's over config's over built-ins)."""
    merged = {**DEFAULTS, **(defaults or {}), **runtime}
    if merged.get("docker") in (None, ""):
        raise _bad("docker", merged.get("docker"), _ALLOWED["docker"])
    if merged.get("queueArn") in (None, ""):
        raise _bad("queueArn", merged.get("queueArn"), _ALLOWED["queueArn"])
    parsed = {
        name: _check(name, merged[name], parse, _ALLOWED[name])
        for name, parse in _PARSERS.items()
        if name in merged
    }
    return BatchRuntime(
        docker=parsed["docker"],
        vcpus=parsed["cpu"],
        memory_mib=parsed["memory"],
        gpu_count=parsed["gpuCount"],
        disks=parsed["disks"],
        queue_arn=(
            parsed["gpuQueueArn"]
            if parsed["gpuCount"] > 0 and "gpuQueueArn" in parsed and "queueArn" not in runtime
            else parsed["queueArn"]
        ),
        retry_attempts=parsed["awsBatchRetryAttempts"],
        evaluate_on_exit=parsed.get("awsBatchEvaluateOnExit", ()),
        ulimits=parsed.get("ulimits", ()),
        shared_memory_mib=parsed["sharedMemorySize"],
        job_timeout=parsed["jobTimeout"],
        log_group=parsed["logGroupName"],
        fail_on_stderr=parsed["failOnStderr"],
        max_retries=parsed["maxRetries"],
        preemptible=parsed["preemptible"],
    )
