"""Reusable job definitions, one per distinct set of what a definition fixes.

A ``DefinitionSpec`` holds exactly what a job definition fixes: the image as
pulled, the job role, volumes and mount points, ulimits, shared memory, log
group, retry strategy and timeout. Never cpu, memory or GPUs: the definition
carries fixed minimal placeholders and every SubmitJob sets the task's real
values in ``containerOverrides``. The name is ``ironside-<image>-<hash>``.

``JobDefinitions`` resolves a spec to an ARN: in-process memo, else
``DescribeJobDefinitions`` (ACTIVE, highest revision), else
``RegisterJobDefinition``, retried ``numCreateDefinitionAttempts`` times.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ironside.backends.base import SubmitLater

from .runtime_attributes import BatchRuntime
from .throttle import AdaptiveRateLimiter, is_retryable, is_throttling

FETCH_AND_RUN = "/usr/local/bin/fetch_and_run.sh"
AWS_CLI = "/usr/local/aws-cli"
PLACEHOLDER_VCPUS = "1"
PLACEHOLDER_MEMORY_MIB = "128"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class DefinitionSpec:
    """What a job definition fixes (its identity); hashable."""

    image: str
    job_role_arn: str | None
    mounts: tuple[tuple[str, str, bool], ...]  # (host path, container path, read only)
    ulimits: tuple[tuple[str, int, int], ...]
    shared_memory_mib: int
    log_group: str
    retry_attempts: int
    evaluate_on_exit: tuple[tuple[tuple[str, str], ...], ...]
    timeout_seconds: int

    @classmethod
    def for_call(
        cls, image: str, job_role_arn: str | None, runtime: BatchRuntime
    ) -> DefinitionSpec:
        """The spec of a call: host scripts and CLI read-only, then the task's disks."""
        mounts = [(FETCH_AND_RUN, FETCH_AND_RUN, True), (AWS_CLI, AWS_CLI, True)]
        mounts += [(d.mount_point, d.mount_point, False) for d in runtime.disks]
        return cls(
            image=image,
            job_role_arn=job_role_arn,
            mounts=tuple(mounts),
            ulimits=runtime.ulimits,
            shared_memory_mib=runtime.shared_memory_mib,
            log_group=runtime.log_group,
            retry_attempts=runtime.retry_attempts,
            evaluate_on_exit=runtime.evaluate_on_exit,
            timeout_seconds=runtime.job_timeout,
        )

    def digest(self) -> str:
        """A stable content hash of the spec."""
        canonical = json.dumps(self.__dict__, sort_keys=True, default=list)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def name(self) -> str:
        """``ironside-<sanitized image>-<hash>``, at most 128 characters."""
        image = _UNSAFE.sub("_", self.image).strip("_")[:80]
        return f"ironside-{image}-{self.digest()[:32]}"

    def register_request(self) -> dict[str, Any]:
        """The ``RegisterJobDefinition`` arguments."""
        container: dict[str, Any] = {
            "image": self.image,
            "command": [FETCH_AND_RUN],
            "resourceRequirements": [
                {"type": "VCPU", "value": PLACEHOLDER_VCPUS},
                {"type": "MEMORY", "value": PLACEHOLDER_MEMORY_MIB},
            ],
            "volumes": [
                {"name": f"v{i}", "host": {"sourcePath": host}}
                for i, (host, _, _) in enumerate(self.mounts)
            ],
            "mountPoints": [
                {"sourceVolume": f"v{i}", "containerPath": path, "readOnly": ro}
                for i, (_, path, ro) in enumerate(self.mounts)
            ],
            "ulimits": [{"name": n, "softLimit": s, "hardLimit": h} for n, s, h in self.ulimits],
            "linuxParameters": {"sharedMemorySize": self.shared_memory_mib},
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": self.log_group},
            },
        }
        if self.job_role_arn:
            container["jobRoleArn"] = self.job_role_arn
        request: dict[str, Any] = {
            "jobDefinitionName": self.name(),
            "type": "container",
            "containerProperties": container,
            "propagateTags": True,
            "tags": {"ironside-definition": self.digest()[:32]},
        }
        if self.retry_attempts or self.evaluate_on_exit:
            strategy: dict[str, Any] = {"attempts": max(1, self.retry_attempts)}
            if self.evaluate_on_exit:
                strategy["evaluateOnExit"] = [dict(rule) for rule in self.evaluate_on_exit]
            request["retryStrategy"] = strategy
        if self.timeout_seconds:
            request["timeout"] = {"attemptDurationSeconds": self.timeout_seconds}
        return request


class JobDefinitions:
    """Resolves specs to job definition ARNs, registering each distinct one at most once.

    Never waits on the caller's (the scheduler's) thread: on throttling (which slows
    ``limiter`` down), or on a 5xx (up to ``attempts`` in a row for one spec, then the error
    is raised) it raises ``SubmitLater`` and the engine asks again at a later tick.
    """

    def __init__(self, batch: Any, *, attempts: int, limiter: AdaptiveRateLimiter) -> None:
        self._batch = batch
        self._attempts = attempts
        self._limiter = limiter
        self._arns: dict[DefinitionSpec, str] = {}
        self._locks: dict[DefinitionSpec, threading.Lock] = {}
        self._failures: Counter[DefinitionSpec] = Counter()
        self._guard = threading.Lock()

    def arn_for(self, spec: DefinitionSpec) -> str:
        """The ARN of an ACTIVE definition for ``spec``: memoised, found, or registered."""
        if (arn := self._arns.get(spec)) is not None:
            return arn
        with self._guard:
            lock = self._locks.setdefault(spec, threading.Lock())
        with lock:
            if (arn := self._arns.get(spec)) is None:
                arn = self._find(spec) or self._register(spec)
                self._arns[spec] = arn
        return arn

    def forget(self, spec: DefinitionSpec) -> None:
        """Drop a memoised ARN (its definition was deregistered outside this process)."""
        self._arns.pop(spec, None)

    def _call(self, spec: DefinitionSpec, fn: Callable[[], Any]) -> Any:
        try:  # not paced: one or two calls per distinct definition
            result = fn()
        except ClientError as err:
            if is_throttling(err):
                self._limiter.on_throttle()
                raise SubmitLater(f"job definition call throttled: {err}") from err
            if is_retryable(err) and self._failures[spec] + 1 < self._attempts:
                self._failures[spec] += 1
                raise SubmitLater(f"job definition call failed, to be tried again: {err}") from err
            raise
        self._limiter.on_success()
        self._failures.pop(spec, None)
        return result

    def _find(self, spec: DefinitionSpec) -> str | None:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            args: dict[str, Any] = {"jobDefinitionName": spec.name(), "status": "ACTIVE"}
            if token:
                args["nextToken"] = token
            page = self._call(spec, functools.partial(self._batch.describe_job_definitions, **args))
            found += page.get("jobDefinitions", [])
            token = page.get("nextToken")
            if not token:
                break
        active = [d for d in found if d.get("status", "ACTIVE") == "ACTIVE"]
        if not active:
            return None
        return str(max(active, key=lambda d: d["revision"])["jobDefinitionArn"])

    def _register(self, spec: DefinitionSpec) -> str:
        request = spec.register_request()
        response = self._call(spec, lambda: self._batch.register_job_definition(**request))
        return str(response["jobDefinitionArn"])
