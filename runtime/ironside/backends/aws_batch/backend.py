"""``AwsBatchBackend``: runs rendered task scripts as AWS Batch jobs.

It composes the small shared pieces of this package: settings, runtime
attributes and workflow options (validated before any AWS call), the script
stager, the job-definition cache, the SubmitJob rate limiter and the status
poller. Clients are handed in (boto3 ``batch`` and ``s3``), so tests pass moto.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from ironside.backends.base import Backend, InputEnv, JobRequest, JobState, SubmitLater
from ironside.filesystems.dispatch import FileSystems
from ironside.tasks import FileTransfer
from ironside.tasks.s3_localizer import HTTP_PREFIXES, BatchLocalizer, download_inputs, map_inputs

from . import arrays
from .images import pulled_image
from .job_definitions import DefinitionSpec, JobDefinitions
from .options import BatchOptions, parse_options
from .poller import ABORT_REASON, CALL_ROOT_ENV, JobDetails, StatusPoller
from .runtime_attributes import BatchRuntime, parse_runtime
from .scripts import ScriptStager
from .settings import AwsBatchSettings, parse_settings
from .throttle import AdaptiveRateLimiter, call_with_retries, is_retryable, is_throttling

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_UNSAFE_TAG = re.compile(r"[^\w\s+=.:/@-]", re.ASCII)
MAX_NAME = 128
_MEMO_SIZE = 4096  # distinct runtimes and option sets remembered (then forgotten at once)
_Parsed = TypeVar("_Parsed")
MAX_TAG_VALUE = 256
log = logging.getLogger(__name__)


class JobLimitReached(RuntimeError):
    """``concurrent-job-limit`` jobs are in flight: submit again after a poll frees a slot."""


@dataclass(frozen=True)
class SubmittedJob:
    """What this engine process knows of a job it submitted (for metadata)."""

    job_id: str
    job_name: str
    requested_image: str
    pulled_image: str
    job_definition_arn: str
    script_url: str
    queue_arn: str
    call_key: tuple[str, str, int]  # (workflow id, call, shard): attempts of one call share it
    preemptible: int
    array_job_id: str | None = None  # an array child: its array's job id
    array_index: int | None = None


def _definition_gone(err: ClientError) -> bool:
    error = err.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    return error.get("Code") == "ClientException" and "definition" in message


def call_key(request: JobRequest) -> tuple[str, str, int]:
    """What the attempts of one call have in common."""
    return (request.workflow_id, request.call_fqn, request.shard)


def job_name(request: JobRequest) -> str:
    """A unique, Batch-safe name ``[A-Za-z0-9_-]{1,128}`` for one call attempt."""
    call = request.call_fqn.replace(".", "-")
    shard = "" if request.shard < 0 else f"-{request.shard}"
    raw = f"{call}{shard}-a{request.attempt}-{request.workflow_id}"
    name = _UNSAFE_NAME.sub("_", raw).strip("_") or "ironside"
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
        name = f"{name[: MAX_NAME - 17]}-{digest}"
    return name


def job_tags(request: JobRequest) -> dict[str, str]:
    """Tags propagated to the ECS task: workflow id, call, shard, attempt, user labels."""
    tags = {
        "ironside:workflow-id": request.workflow_id,
        "ironside:call": request.call_fqn,
        "ironside:shard": str(request.shard),
        "ironside:attempt": str(request.attempt),
    }
    labels = request.options.get("labels")
    if isinstance(labels, Mapping):
        for key, value in list(labels.items())[: 50 - len(tags)]:
            tags[_tag_text(f"label:{key}")[:128]] = str(value)
    return {k: _tag_text(v)[:MAX_TAG_VALUE] for k, v in tags.items()}


def _tag_text(text: str) -> str:
    """Characters AWS tags accept (letters, digits, spaces and ``+-=._:/@``); others ``_``."""
    return _UNSAFE_TAG.sub("_", text)


def container_overrides(
    runtime: BatchRuntime, script_url: str, call_root: str | None
) -> dict[str, Any]:
    """The task's real cpu, memory and GPUs, and the environment ``fetch_and_run.sh`` reads.

    An array job (no one call root) has its children's scripts in one packed object.
    """
    resources = [
        {"type": "VCPU", "value": str(runtime.vcpus)},
        {"type": "MEMORY", "value": str(runtime.memory_mib)},
    ]
    if runtime.gpu_count:
        resources.append({"type": "GPU", "value": str(runtime.gpu_count)})
    environment = [
        {"name": "BATCH_FILE_TYPE", "value": "packed" if call_root is None else "script"},
        {"name": "BATCH_FILE_S3_URL", "value": script_url},
    ]
    if call_root is not None:
        environment.append({"name": CALL_ROOT_ENV, "value": call_root})
    return {"resourceRequirements": resources, "environment": environment}


class AwsBatchBackend(Backend):
    """Runs each call attempt as one AWS Batch job that fetches its script from S3."""

    name = "AWSBatch"
    localizer = BatchLocalizer()

    def __init__(
        self,
        config: Mapping[str, Any] | AwsBatchSettings,
        *,
        batch: Any,
        s3: Any,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        poll_rate: float = 5.0,
    ) -> None:
        self.settings = config if isinstance(config, AwsBatchSettings) else parse_settings(config)
        self._batch = batch
        self.s3_client = s3  # also the engine's client for every s3:// path
        self.files = FileSystems(s3_client=s3)  # the engine's, sharing the client
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.submit_limiter = AdaptiveRateLimiter(
            self.settings.submit_rate,
            clock=clock,
            sleep=sleep,
            min_rate=self.settings.submit_rate_min,
            max_rate=self.settings.submit_rate_max,
            name="AWS Batch SubmitJob",
        )
        api_limiter = AdaptiveRateLimiter(
            poll_rate, clock=clock, sleep=sleep, name="AWS Batch DescribeJobs"
        )
        self._api_limiter = api_limiter
        self.definitions = JobDefinitions(
            batch, attempts=self.settings.num_create_definition_attempts, limiter=api_limiter
        )
        self.scripts = ScriptStager(s3, self.settings.script_bucket)
        self.arrays = arrays.ArrayStager(s3, self.settings.script_bucket)
        self.poller = StatusPoller(
            batch, s3, limiter=api_limiter, clock=clock, rng=self._rng, min_gap=1.0 / poll_rate
        )
        self.jobs: dict[str, SubmittedJob] = {}
        self._active: set[str] = set()
        self._reclaims: Counter[tuple[str, str, int]] = Counter()
        self._counted: set[str] = set()
        self._uncertain: set[str] = set()  # job names a 5xx SubmitJob may have created
        self._terminating: set[str] = set()  # aborts Batch has not taken yet (throttled)
        self._children: dict[str, set[str]] = {}  # array job id -> its children not yet ended
        self._array_ids: dict[str, str] = {}  # array job name -> id (submitted or adopted)
        self._parsed: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    # -- validation (no AWS calls) -------------------------------------------------

    def validate_runtime(self, runtime: Mapping[str, Any]) -> None:
        """Raise ``BadRuntimeAttribute`` naming the attribute and its allowed values."""
        self.runtime_of(runtime)

    def validate_options(self, options: Mapping[str, Any]) -> None:
        """Raise ``BadOptions`` for a bad job role or script prefix."""
        self.options_of(options)

    def options_of(self, options: Mapping[str, Any]) -> BatchOptions:
        """The parsed Batch options of a workflow (``BadOptions`` when bad)."""
        return self._memo("options", options, lambda: parse_options(options, self.settings))

    def stage_inputs(self, env: InputEnv, call_root: str) -> tuple[InputEnv, list[FileTransfer]]:
        """Every ``s3://`` File mapped to its path in the container; the script copies them.
        ``http(s)://`` inputs are first staged by the engine to ``<call_root>/inputs/``."""
        staged = download_inputs(env, f"{call_root}/inputs", self.files.fetch, HTTP_PREFIXES)
        return map_inputs(staged)

    def runtime_of(self, runtime: Mapping[str, Any]) -> BatchRuntime:
        """The validated runtime attributes, config defaults applied."""
        defaults = {"queueArn": self.settings.queue_arn, **self.settings.default_runtime_attributes}
        return self._memo("runtime", runtime, lambda: parse_runtime(runtime, defaults))

    def _memo(self, kind: str, values: Mapping[str, Any], parse: Callable[[], _Parsed]) -> _Parsed:
        """``parse()``, remembered by ``values``: a scatter's shards share their runtime and
        options, and an array of 10,000 parsed them 10,000 times. A failure is not kept."""
        key = (kind, repr(sorted(values.items())))
        parsed = self._parsed.get(key)
        if parsed is None:
            if len(self._parsed) >= _MEMO_SIZE:
                self._parsed.clear()
            parsed = self._parsed[key] = parse()
        return parsed  # type: ignore[no-any-return]

    # -- lifecycle -----------------------------------------------------------------

    def available_slots(self) -> int | None:
        """How many more jobs go now: 0 while SubmitJob has no token, else the job limit's room."""
        if not self.submit_limiter.ready():
            return 0
        return self._job_room()

    def _job_room(self) -> int | None:
        """How many more jobs ``concurrent-job-limit`` allows now (None: no limit)."""
        limit = self.settings.concurrent_job_limit
        with self._lock:
            return None if limit is None else max(0, limit - len(self._active))

    def submit(self, request: JobRequest) -> str:
        """Stage the script, resolve the definition, SubmitJob; return the Batch job id.

        Never waits for throttling: without a SubmitJob token now, or when Batch
        (or S3, staging the script) says slow down, ``SubmitLater`` (nothing started).
        """
        runtime = self.runtime_of(request.runtime)
        options = self.options_of(request.options)
        if self._job_room() == 0:
            limit = self.settings.concurrent_job_limit
            raise JobLimitReached(f"concurrent-job-limit {limit} reached")
        if not self.submit_limiter.try_acquire():
            raise SubmitLater(f"SubmitJob rate {self.submit_limiter.rate:.2f}/s: no token now")
        image = pulled_image(runtime.docker, self.settings.docker_mirror)
        spec = DefinitionSpec.for_call(image, options.job_role_arn, runtime)
        definition = self.definitions.arn_for(spec)  # SubmitLater when it cannot now
        try:
            script_url = self.scripts.stage(request.script, options.script_prefix)
        except ClientError as err:
            if is_retryable(err):
                raise SubmitLater(f"staging the job's script: {err}") from err
            raise
        args: dict[str, Any] = {
            "jobName": job_name(request),
            "jobQueue": self.queue_for(request, runtime),
            "jobDefinition": definition,
            "containerOverrides": container_overrides(runtime, script_url, request.call_root),
            "tags": job_tags(request),
            "propagateTags": True,
        }
        job_id = self._submit_with_definition(spec, args)
        job = SubmittedJob(
            job_id,
            args["jobName"],
            runtime.docker,
            image,
            args["jobDefinition"],
            script_url,
            args["jobQueue"],
            call_key(request),
            runtime.preemptible,
        )
        self._track(job, request.call_root)
        return job_id

    def _track(self, job: SubmittedJob, call_root: str) -> None:
        """Remember a submitted (or adopted) job: in flight, its metadata, where its rc is."""
        with self._lock:
            self._active.add(job.job_id)
            self.jobs[job.job_id] = job
            if job.array_job_id is not None:
                self._children.setdefault(job.array_job_id, set()).add(job.job_id)
        self.poller.call_roots[job.job_id] = call_root

    def submit_all(self, requests: Sequence[JobRequest]) -> Iterator[tuple[int, str | Exception]]:
        """Alike first attempts of a scatter's call as array jobs, the rest one by one.

        Per request its job id (a child's: ``<array id>:<index>``), ``SubmitLater``
        (throttled, or beyond ``concurrent-job-limit``) or the error that failed it.
        """
        room = self._job_room()
        keyed: list[tuple[int, Hashable | None]] = []
        for i, request in enumerate(requests):
            if room is not None and len(keyed) >= room:
                yield i, SubmitLater(f"concurrent-job-limit {self.settings.concurrent_job_limit}")
                continue
            try:
                keyed.append((i, self._array_key(request)))
            except Exception as exc:  # BadRuntimeAttribute, ...: this attempt fails
                yield i, exc
        chunks, singles = arrays.group(keyed, lambda item: item[1], self.settings.array_min_size)
        later: SubmitLater | None = None
        for chunk in chunks:
            indices = [i for i, _ in chunk]
            outcomes: Sequence[str | Exception] = [later] * len(indices) if later else []
            if later is None:
                try:
                    outcomes = self._submit_array([requests[i] for i in indices])
                except SubmitLater as exc:
                    later = exc
                    outcomes = [exc] * len(indices)
                except Exception as exc:  # e.g. AccessDenied: these attempts fail
                    outcomes = [exc] * len(indices)
            yield from zip(indices, outcomes, strict=True)
        for i, _ in singles:
            if later is None:
                try:
                    yield i, self.submit(requests[i])
                    continue
                except SubmitLater as exc:
                    later = exc
                except Exception as exc:
                    yield i, exc
                    continue
            yield i, later

    def _array_key(self, request: JobRequest) -> Hashable | None:
        """What an array's members share (None: a single job): call, definition, resources."""
        runtime = self.runtime_of(request.runtime)
        if self.settings.array_jobs == "never" or request.attempt != 1 or request.shard < 0:
            return None
        options = self.options_of(request.options)
        return (
            request.workflow_id,
            request.call_fqn,
            self.queue_for(request, runtime),
            runtime,
            options,
        )

    def _submit_array(self, requests: Sequence[JobRequest]) -> list[str]:
        """Stage the scripts and manifest, then one SubmitJob of an array; the children's ids."""
        first = requests[0]
        runtime = self.runtime_of(first.runtime)
        options = self.options_of(first.options)
        if not self.submit_limiter.try_acquire():
            raise SubmitLater(f"SubmitJob rate {self.submit_limiter.rate:.2f}/s: no token now")
        image = pulled_image(runtime.docker, self.settings.docker_mirror)
        spec = DefinitionSpec.for_call(image, options.job_role_arn, runtime)
        members = [arrays.Member(job_name(r), r.call_root) for r in requests]
        name = arrays.array_name(first.call_fqn, first.workflow_id, [m.job_name for m in members])
        prefix = arrays.array_prefix(options.script_prefix, first.workflow_id, name)
        definition = self.definitions.arn_for(spec)  # SubmitLater when it cannot now
        try:
            scripts_url = self.arrays.stage(prefix, name, [r.script for r in requests], members)
        except ClientError as err:
            if is_retryable(err):
                raise SubmitLater(f"staging the array's scripts: {err}") from err
            raise
        tags = job_tags(first)
        del tags["ironside:shard"], tags["ironside:attempt"]
        args: dict[str, Any] = {
            "jobName": name,
            "jobQueue": self.queue_for(first, runtime),
            "jobDefinition": definition,
            "arrayProperties": {"size": len(requests)},
            "containerOverrides": container_overrides(runtime, scripts_url, None),
            "tags": tags,
            "propagateTags": True,
        }
        array_id = self._submit_with_definition(spec, args)
        self._array_ids[name] = array_id
        ids = []
        for index, request in enumerate(requests):
            job = SubmittedJob(
                arrays.child_id(array_id, index),
                name,
                runtime.docker,
                image,
                args["jobDefinition"],
                f"{scripts_url}#{index}",
                args["jobQueue"],
                call_key(request),
                runtime.preemptible,
                array_id,
                index,
            )
            self._track(job, request.call_root)
            ids.append(job.job_id)
        return ids

    def _submit_with_definition(self, spec: DefinitionSpec, args: dict[str, Any]) -> str:
        """SubmitJob; if the memoised definition was deregistered outside, register it again."""
        try:
            return self._submit_job(args)
        except ClientError as err:
            if not _definition_gone(err):
                raise
        self.definitions.forget(spec)
        args["jobDefinition"] = self.definitions.arn_for(spec)
        return self._submit_job(args)

    def queue_for(self, request: JobRequest, runtime: BatchRuntime) -> str:
        """The call's queue, or ``fallbackQueueArn`` once Spot took it more than preemptible."""
        fallback = self.settings.fallback_queue_arn
        with self._lock:
            reclaims = self._reclaims[call_key(request)]
        return fallback if fallback and reclaims > runtime.preemptible else runtime.queue_arn

    def _submit_job(self, args: dict[str, Any]) -> str:
        """SubmitJob, 5xx retried; after an ambiguous 5xx, look for the job by name first.

        Throttling is not retried here: the limiter slows down and ``SubmitLater``
        hands the attempt back to the engine. A name an earlier 5xx left uncertain
        stays so until a lookup or a submission settles it, across ``SubmitLater``.
        """
        name = args["jobName"]

        def attempt() -> Mapping[str, Any]:
            try:
                if name in self._uncertain:
                    known = set(self.jobs)
                    if found := self._find_by_name(args["jobQueue"], name, known):
                        return {"jobId": found}
                return dict(self._batch.submit_job(**args))
            except ClientError as err:
                if is_throttling(err):
                    self.submit_limiter.on_throttle()
                    raise SubmitLater(f"SubmitJob throttled: {err}") from err
                self._uncertain.add(name)
                raise

        response = call_with_retries(
            attempt,
            attempts=self.settings.num_submit_attempts,
            limiter=None,
            sleep=self._sleep,
            rng=self._rng,
        )
        self._uncertain.discard(name)
        self.submit_limiter.on_success()
        return str(response["jobId"])

    def poll(self, job_ids: Sequence[str]) -> Mapping[str, JobState]:
        """States of all ``job_ids`` through the shared poller (100 per DescribeJobs).

        Aborts Batch did not take yet (throttled) are sent again first.
        """
        self._send_terminations()
        states = dict(self.poller.poll(job_ids))
        with self._lock:
            for job_id, state in states.items():
                if state.status.terminal:
                    self._active.discard(job_id)
                    self._terminating.discard(job_id)
                    self._child_ended(job_id)
                else:
                    self._active.add(job_id)
                if state.retryable and job_id in self.jobs:
                    states[job_id] = self._spot_reclaimed(self.jobs[job_id], state)
        return states

    def _child_ended(self, job_id: str) -> None:
        """Forget an ended array child; the array with it once no child runs (lock held)."""
        array_id = arrays.array_of(job_id)
        children = self._children.get(array_id) if array_id else None
        if children is not None:
            children.discard(job_id)
            if not children:
                del self._children[array_id]  # type: ignore[arg-type]

    def _spot_reclaimed(self, job: SubmittedJob, state: JobState) -> JobState:
        """Count a Spot reclaim of the call; past ``preemptible``: fallback queue or fail."""
        if job.job_id not in self._counted:
            self._counted.add(job.job_id)
            self._reclaims[job.call_key] += 1
        reclaims = self._reclaims[job.call_key]
        if reclaims <= job.preemptible:
            return state
        fallback = self.settings.fallback_queue_arn
        if fallback and job.queue_arn != fallback:
            return dataclasses.replace(state, reason=f"{state.reason}; next attempt on {fallback}")
        note = f"Spot reclaimed {reclaims} times (preemptible={job.preemptible})"
        return dataclasses.replace(state, reason=f"{state.reason}; {note}", retryable=False)

    def abort(self, job_id: str) -> None:
        """TerminateJob (cancels a queued job, stops a running one); idempotent.

        Never waits: throttled or refused with a 5xx, it is sent again at each
        poll until Batch takes it (or the job ends). An array child's abort goes
        at the next poll, so that aborting every child of an array is one
        TerminateJob of the array (a child alone is terminated by its own id).
        """
        with self._lock:
            self._terminating.add(job_id)
        if arrays.array_of(job_id) is None:
            self._send_terminations()

    def _termination_targets(self) -> list[tuple[str, set[str]]]:
        """(id to terminate, the aborts it settles): an array whose running children are
        all being aborted is one target; other children and single jobs are their own."""
        with self._lock:
            pending = set(self._terminating)
            targets: list[tuple[str, set[str]]] = []
            for array_id, children in self._children.items():
                if children and children <= pending:
                    targets.append((array_id, set(children)))
                    pending -= children
        return targets + [(job_id, {job_id}) for job_id in sorted(pending)]

    def _send_terminations(self) -> None:
        """TerminateJob for every abort not yet taken, while the limiter has tokens."""
        for target, settled in self._termination_targets():
            if not self.submit_limiter.try_acquire():
                return
            try:
                self._batch.terminate_job(jobId=target, reason=ABORT_REASON)
            except ClientError as err:
                if is_retryable(err):
                    if is_throttling(err):
                        self.submit_limiter.on_throttle()
                    return
                log.warning("TerminateJob %s refused: %s", target, err)
            else:
                self.submit_limiter.on_success()
            with self._lock:
                self._terminating -= settled

    def adopt(self, request: JobRequest) -> str | None:
        """After a restart: the id of a job already submitted for ``request``.

        An array child is found through the workflow's array manifests (array name and
        index) and its array by name; a single job by its unique name. ``SubmitLater``
        when S3 or ListJobs is throttled or fails: asked again at a later tick.
        """
        runtime = self.runtime_of(request.runtime)
        queue = self.queue_for(request, runtime)
        name = job_name(request)
        script_prefix = self.options_of(request.options).script_prefix
        try:
            places = self.arrays.places(script_prefix, request.workflow_id, name)
        except ClientError as err:
            if not is_retryable(err):
                raise
            raise SubmitLater(f"reading the workflow's array manifests: {err}") from err
        for array, index in places:
            array_id = self._array_ids.get(array) or self._lookup(queue, array)
            if array_id is not None:
                self._array_ids[array] = array_id
                return arrays.child_id(array_id, index)
        return self._lookup(queue, name)

    def _lookup(self, queue: str, name: str) -> str | None:
        """``_find_by_name`` through the API limiter; ``SubmitLater`` when it cannot now."""
        if not self._api_limiter.try_acquire():
            raise SubmitLater("finding the job by name: no API token now")
        try:
            found = self._find_by_name(queue, name)
        except ClientError as err:
            if not is_retryable(err):
                raise
            if is_throttling(err):
                self._api_limiter.on_throttle()
            raise SubmitLater(f"finding the job by name (ListJobs): {err}") from err
        self._api_limiter.on_success()
        return found

    def recover(self, request: JobRequest, job_id: str | None) -> str | None:
        """After a restart: the stored id, else a job found by its unique name, else None."""
        job_id = job_id if job_id is not None else self.adopt(request)
        if job_id is not None:
            self.poller.call_roots[job_id] = request.call_root
            array_id = arrays.array_of(job_id)
            if array_id is not None:
                with self._lock:
                    self._children.setdefault(array_id, set()).add(job_id)
        return job_id

    def _find_by_name(self, queue: str, name: str, skip: set[str] | None = None) -> str | None:
        """The newest job named ``name`` on ``queue`` (ListJobs, any status), ids in skip aside."""
        matches: list[dict[str, Any]] = []
        args: dict[str, Any] = {
            "jobQueue": queue,
            "filters": [{"name": "JOB_NAME", "values": [name]}],
        }
        while True:
            page = self._batch.list_jobs(**args)
            matches += [
                job
                for job in page.get("jobSummaryList", [])
                if job.get("jobName") == name
                and job["jobId"] not in (skip or set())
                and arrays.array_of(job["jobId"]) is None  # an array's children share its name
            ]
            if not page.get("nextToken"):
                break
            args["nextToken"] = page["nextToken"]
        if not matches:
            return None
        return str(max(matches, key=lambda job: job.get("createdAt", 0))["jobId"])

    def details(self, job_id: str) -> JobDetails | None:
        """What Batch last said about the job (reasons, exit code, log group and stream)."""
        return self.poller.details.get(job_id)

    def call_metadata(self, job_id: str) -> dict[str, Any] | None:
        """Metadata of the call attempt: images (requested, pulled), Batch's view, logs."""
        job = self.jobs.get(job_id)
        details = self.details(job_id)
        info: dict[str, Any] = {"jobId": job_id}
        if job is not None:
            info.update(
                dockerImageRequested=job.requested_image,
                dockerImageUsed=job.pulled_image,
                jobName=job.job_name,
                jobDefinition=job.job_definition_arn,
                jobQueue=job.queue_arn,
                script=job.script_url,
            )
            if job.array_job_id is not None:
                info.update(arrayJobId=job.array_job_id, arrayIndex=job.array_index)
        if details is not None:
            info["backendStatus"] = details.batch_status
            if details.batch_status == "FAILED":
                info["backendFailure"] = {
                    "statusReason": details.status_reason,
                    "containerReason": details.container_reason,
                    "exitCode": details.exit_code,
                }
        logs = self.backend_logs(job_id)
        if logs:
            info["backendLogs"] = logs
        return info

    def backend_logs(self, job_id: str) -> dict[str, str] | None:
        """The job's CloudWatch log location for metadata ``backendLogs``."""
        details = self.details(job_id)
        if details is None or not details.log_stream:
            return None
        return {"log": f"cloudwatch://{details.log_group}/{details.log_stream}"}
