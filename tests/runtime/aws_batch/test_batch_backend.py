"""AwsBatchBackend against moto: definitions reused, overrides per job, economy, options."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ironside.backends.aws_batch import AwsBatchBackend, JobLimitReached, job_name
from ironside.backends.aws_batch.backend import job_tags
from ironside.backends.aws_batch.scripts import script_key
from ironside.backends.base import JobRequest, JobStatus, SubmitLater
from ironside.errors import BadOptions, BadRuntimeAttribute

from .batch_helpers import CallCounter, FakeClock, aws_error, make_queue, throttled
from .conftest import REGION, ROOT_BUCKET, SCRIPT_BUCKET

ROLE_A = "arn:aws:iam::123456789012:role/TeamA"
ROLE_B = "arn:aws:iam::123456789012:role/TeamB"
WORKFLOW = "0b6c3f2e-1111-4a4a-9999-0123456789ab"


def request(
    shard: int = -1, *, options: dict[str, Any] | None = None, **runtime: Any
) -> JobRequest:
    call_root = f"s3://{ROOT_BUCKET}/cromwell-execution/wf/{WORKFLOW}/call-hello/shard-{shard}"
    return JobRequest(
        workflow_id=WORKFLOW,
        call_fqn="wf.hello",
        shard=shard,
        attempt=1,
        call_root=call_root,
        script=f"#!/bin/bash\n# {call_root}\necho hello\n",
        runtime={"docker": "ubuntu:24.04", **runtime},
        options=options or {},
    )


@pytest.fixture
def backend(config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock) -> AwsBatchBackend:
    return AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)


def overrides(params: dict[str, Any]) -> dict[str, str]:
    resources = params["containerOverrides"]["resourceRequirements"]
    return {r["type"]: r["value"] for r in resources}


def test_twelve_tasks_three_images_two_roles_six_definitions(
    backend: AwsBatchBackend, batch: Any
) -> None:
    counter = CallCounter(batch)
    images = ["ubuntu:24.04", "python:3.11", "quay.io/biocontainers/samtools:1.9"]
    expected = []
    for i in range(12):
        image, role = images[i % 3], [ROLE_A, ROLE_B][(i // 3) % 2]
        cpu, memory = 1 + i, f"{(i + 1) * 512} MiB"
        options = {"aws_batch_job_role_arn": role}
        backend.submit(request(i, options=options, docker=image, cpu=cpu, memory=memory))
        expected.append({"VCPU": str(cpu), "MEMORY": str((i + 1) * 512)})
    assert counter.calls["RegisterJobDefinition"] == 6
    assert counter.calls["SubmitJob"] == 12
    assert [overrides(p) for p in counter.params["SubmitJob"]] == expected
    registered = counter.params["RegisterJobDefinition"]
    pairs = {
        (r["containerProperties"]["image"], r["containerProperties"]["jobRoleArn"])
        for r in registered
    }
    assert pairs == {(i, r) for i in images for r in (ROLE_A, ROLE_B)}


def test_thousand_submissions_one_definition_ten_describes(
    backend: AwsBatchBackend, batch: Any, s3: Any
) -> None:
    counter = CallCounter(batch)
    s3_counter = CallCounter(s3)
    ids = [
        backend.submit(request(i, cpu=1 + i % 7, memory=f"{1 + i % 13} GiB", gpuCount=i % 2))
        for i in range(1000)
    ]
    assert len(set(ids)) == 1000
    assert counter.calls["RegisterJobDefinition"] == 1
    assert counter.calls["DescribeJobDefinitions"] == 1
    assert counter.calls["SubmitJob"] == 1000
    assert s3_counter.calls["PutObject"] == 1000  # one per distinct script
    states = backend.poll(ids)
    assert counter.calls["DescribeJobs"] == 10
    assert all(len(p["jobs"]) <= 100 for p in counter.params["DescribeJobs"])
    assert set(states) == set(ids)


def test_submit_job_request_shape(backend: AwsBatchBackend, batch: Any) -> None:
    counter = CallCounter(batch)
    req = request(3, cpu=2, memory="3 GiB", gpuCount=1)
    backend.submit(req)
    params = counter.params["SubmitJob"][0]
    assert params["jobName"] == job_name(req)
    assert overrides(params) == {"VCPU": "2", "MEMORY": "3072", "GPU": "1"}
    env = {e["name"]: e["value"] for e in params["containerOverrides"]["environment"]}
    digest = script_key(req.script, "")
    assert env["BATCH_FILE_TYPE"] == "script"
    assert env["BATCH_FILE_S3_URL"] == f"s3://{SCRIPT_BUCKET}/scripts/{digest}"
    assert env["IRONSIDE_CALL_ROOT"] == req.call_root
    assert params["propagateTags"] is True
    assert params["tags"]["ironside:workflow-id"] == WORKFLOW
    assert params["tags"]["ironside:shard"] == "3"
    assert params["tags"]["ironside:attempt"] == "1"


def test_role_option_sets_job_role_on_definition(backend: AwsBatchBackend, batch: Any) -> None:
    job_id = backend.submit(request(options={"aws_batch_job_role_arn": ROLE_A}))
    arn = backend.jobs[job_id].job_definition_arn
    found = batch.describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"][0]
    assert found["containerProperties"]["jobRoleArn"] == ROLE_A


@pytest.mark.parametrize(
    ("options", "runtime", "error"),
    [
        ({"aws_batch_job_role_arn": "arn:aws:iam::123:role/x"}, {}, BadOptions),
        ({"aws_batch_job_role_arn": "arn:aws:iam::123456789012:role/Admin"}, {}, BadOptions),
        ({"aws_batch_script_bucket_prefix": "../up"}, {}, BadOptions),
        ({}, {"memory": "lots"}, BadRuntimeAttribute),
        ({}, {"awsBatchRetryAttempts": 11}, BadRuntimeAttribute),
    ],
)
def test_refused_before_any_aws_call(
    config: dict[str, Any],
    batch: Any,
    s3: Any,
    clock: FakeClock,
    options: dict[str, Any],
    runtime: dict[str, Any],
    error: type[Exception],
) -> None:
    config = {**config, "allowed-job-role-arns": ["arn:aws:iam::123456789012:role/Team*"]}
    backend = AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)
    batch_calls, s3_calls = CallCounter(batch), CallCounter(s3)
    with pytest.raises(error):
        backend.submit(request(options=options, **runtime))
    assert not batch_calls.calls
    assert not s3_calls.calls


def test_script_prefix_option_places_script(backend: AwsBatchBackend, s3: Any) -> None:
    req = request(options={"aws_batch_script_bucket_prefix": "team-alpha/project-genomics/scripts"})
    job_id = backend.submit(req)
    digest = script_key(req.script, "")
    url = f"s3://{SCRIPT_BUCKET}/team-alpha/project-genomics/scripts/{digest}"
    assert backend.jobs[job_id].script_url == url
    body = s3.get_object(Bucket=SCRIPT_BUCKET, Key=url.split("/", 3)[3])["Body"].read()
    assert body.decode() == req.script


def test_identical_script_stored_once(
    backend: AwsBatchBackend, config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock
) -> None:
    counter = CallCounter(s3)
    backend.submit(request())
    backend.submit(request())
    assert counter.calls["PutObject"] == 1
    assert counter.calls["HeadObject"] == 1
    restarted = AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)
    restarted.submit(request())
    assert counter.calls["PutObject"] == 1
    assert counter.calls["HeadObject"] == 2


def test_docker_mirror_pulls_through_cache(
    config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock
) -> None:
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub"
    config = {**config, "docker-mirror": {"dockerhub": {"enabled": True, "address": ecr}}}
    backend = AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)
    job = backend.jobs[backend.submit(request(docker="ubuntu:24.04"))]
    assert (job.requested_image, job.pulled_image) == (
        "ubuntu:24.04",
        f"{ecr}/library/ubuntu:24.04",
    )


def test_submit_throttled_hands_back_without_waiting(
    backend: AwsBatchBackend, batch: Any, clock: FakeClock
) -> None:
    left = [3]

    def throttle(**_: Any) -> None:
        if left[0]:
            left[0] -= 1
            raise throttled("SubmitJob")

    batch.meta.events.register("before-call.batch.SubmitJob", throttle)
    start_rate = backend.submit_limiter.rate
    for _ in range(3):
        with pytest.raises(SubmitLater, match="throttled"):
            backend.submit(request())
        clock.now += 1.0  # the engine's next ticks
    assert backend.submit_limiter.rate == start_rate / 8
    assert not clock.sleeps  # never waited on the scheduler's thread
    job_id = backend.submit(request())
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["jobId"] == job_id
    assert list(backend.jobs) == [job_id]


def test_no_token_no_slot_and_submit_later(
    config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock
) -> None:
    config = {**config, "submit-rate": 2, "submit-rate-min": 1, "submit-rate-max": 4}
    backend = AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)
    backend.submit(request(0))
    backend.submit(request(1))
    assert backend.available_slots() == 0
    counter = CallCounter(batch)
    with pytest.raises(SubmitLater, match="no token"):
        backend.submit(request(2))
    assert not counter.calls  # nothing staged, nothing submitted
    clock.now += 0.5
    assert backend.available_slots() is None
    backend.submit(request(2))
    assert backend.submit_limiter.rate > 2  # additive increase after successes, up to 4


def test_throttled_after_an_ambiguous_5xx_still_looks_up_by_name(
    backend: AwsBatchBackend, batch: Any, clock: FakeClock
) -> None:
    answers = ["lost", "throttled"]

    def fault(**_: Any) -> None:
        if answers and answers[0] == "lost":
            answers.pop(0)
            raise server_error("SubmitJob")

    def throttle_list(**_: Any) -> None:
        if answers:
            answers.pop(0)
            raise throttled("ListJobs")

    batch.meta.events.register("after-call.batch.SubmitJob", fault)  # created, answer lost
    batch.meta.events.register("before-call.batch.ListJobs", throttle_list)
    counter = CallCounter(batch)
    with pytest.raises(SubmitLater):
        backend.submit(request(3))
    clock.now += 1.0
    job_id = backend.submit(request(3))  # found by its name, not submitted again
    assert counter.calls["SubmitJob"] == 1
    assert counter.calls["ListJobs"] == 2
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["jobName"] == job_name(request(3))


def test_throttled_abort_is_sent_again_at_the_next_polls(
    backend: AwsBatchBackend, batch: Any, clock: FakeClock
) -> None:
    job_id = backend.submit(request())
    left = [2]

    def throttle(**_: Any) -> None:
        if left[0]:
            left[0] -= 1
            raise throttled("TerminateJob")

    batch.meta.events.register("before-call.batch.TerminateJob", throttle)
    counter = CallCounter(batch)
    backend.abort(job_id)  # throttled: kept, no exception, no wait
    assert not clock.sleeps
    for _ in range(3):
        clock.now += 1.0
        backend.poll([])
    assert counter.calls["TerminateJob"] == 3  # 2 throttled, then taken; not sent again
    assert left == [0]


def test_concurrent_job_limit(
    config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock
) -> None:
    backend = AwsBatchBackend(
        {**config, "concurrent-job-limit": 2}, batch=batch, s3=s3, clock=clock, sleep=clock.sleep
    )
    first = backend.submit(request(0))
    backend.submit(request(1))
    assert backend.available_slots() == 0
    counter = CallCounter(batch)
    with pytest.raises(JobLimitReached, match="concurrent-job-limit 2"):
        backend.submit(request(2))
    assert not counter.calls
    backend.poll([first])  # finished (moto without Docker ends jobs at once): frees a slot
    assert backend.available_slots() == 1
    backend.submit(request(2))


def test_poll_reads_rc_from_s3(backend: AwsBatchBackend, s3: Any) -> None:
    ok, failing, lost = (backend.submit(request(i)) for i in range(3))
    for shard, rc in ((0, "0\n"), (1, "3")):
        key = request(shard).call_root.split("/", 3)[3] + "/execution/rc"
        s3.put_object(Bucket=ROOT_BUCKET, Key=key, Body=rc.encode())
    states = backend.poll([ok, failing, lost, "no-such-job"])
    assert (states[ok].status, states[ok].return_code) == (JobStatus.SUCCEEDED, 0)
    assert (states[failing].status, states[failing].return_code) == (JobStatus.SUCCEEDED, 3)
    assert states[lost].status is JobStatus.FAILED
    assert "no rc at s3://" in (states[lost].reason or "")
    assert states["no-such-job"].status is JobStatus.FAILED


def test_abort_terminates(backend: AwsBatchBackend, batch: Any) -> None:
    job_id = backend.submit(request())
    counter = CallCounter(batch)
    backend.abort(job_id)
    backend.abort(job_id)
    assert counter.calls["TerminateJob"] == 2
    assert counter.params["TerminateJob"][0] == {"jobId": job_id, "reason": "Aborted by Ironside"}


def test_adopt_finds_job_submitted_before_restart(
    backend: AwsBatchBackend, config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock
) -> None:
    job_id = backend.submit(request(5))
    backend.submit(request(6))
    restarted = AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)
    counter = CallCounter(batch)
    assert restarted.adopt(request(5)) == job_id
    assert restarted.adopt(request(7)) is None
    assert counter.calls["SubmitJob"] == 0


def test_throttled_list_jobs_at_adoption_hands_back_without_waiting(
    backend: AwsBatchBackend, config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock
) -> None:
    """A restart adopting many jobs is paced, and throttled ListJobs is only a "later"."""
    job_id = backend.submit(request(5))
    restarted = AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)
    left = [2]

    def throttle(**_: Any) -> None:
        if left[0]:
            left[0] -= 1
            raise throttled("ListJobs")

    batch.meta.events.register("before-call.batch.ListJobs", throttle)
    for _ in range(2):
        with pytest.raises(SubmitLater, match="ListJobs"):
            restarted.recover(request(5), None)
        clock.now += 5.0  # the engine's next ticks
    assert restarted.recover(request(5), None) == job_id
    assert not clock.sleeps


def test_job_names_are_sanitized_and_unique() -> None:
    base = request(12)
    name = job_name(base)
    assert name == f"wf-hello-12-a1-{WORKFLOW}"
    weird = JobRequest(
        workflow_id=WORKFLOW,
        call_fqn="wf.sub wf.task/x" + ".very_long_call_name" * 10,
        shard=-1,
        attempt=2,
        call_root="s3://b/r",
        script="",
    )
    long_name = job_name(weird)
    assert len(long_name) <= 128
    assert all(c.isalnum() or c in "_-" for c in long_name)
    other = JobRequest(**{**weird.__dict__, "attempt": 3})
    assert job_name(other) != long_name


def test_definition_json_is_serialisable(backend: AwsBatchBackend, batch: Any) -> None:
    job_id = backend.submit(
        request(
            awsBatchEvaluateOnExit=[{"action": "RETRY", "onStatusReason": "Host EC2*"}],
            awsBatchRetryAttempts=3,
            ulimits=[{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
        )
    )
    arn = backend.jobs[job_id].job_definition_arn
    found = batch.describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"][0]
    assert found["retryStrategy"]["attempts"] == 3
    (rule,) = found["retryStrategy"]["evaluateOnExit"]
    assert (rule["action"].upper(), rule["onStatusReason"]) == ("RETRY", "Host EC2*")
    assert json.dumps(found["containerProperties"]["ulimits"])


def server_error(op: str) -> ClientError:
    return aws_error("ServerException", 500, op, "internal")


def test_submit_after_ambiguous_5xx_adopts_instead_of_duplicating(
    backend: AwsBatchBackend, batch: Any
) -> None:
    lost = [True]

    def lose_response(**_: Any) -> None:  # the job was created, the answer is lost
        if lost[0]:
            lost[0] = False
            raise server_error("SubmitJob")

    earlier = backend.submit(request(4))  # same name (e.g. resubmitted after a Spot reclaim)
    batch.meta.events.register("after-call.batch.SubmitJob", lose_response)
    counter = CallCounter(batch)
    job_id = backend.submit(request(4))
    assert counter.calls["SubmitJob"] == 1
    assert counter.calls["ListJobs"] == 1
    assert job_id != earlier
    listed = batch.list_jobs(jobQueue=backend.settings.queue_arn, jobStatus="SUCCEEDED")
    assert {j["jobId"] for j in listed["jobSummaryList"]} == {earlier, job_id}


def test_recover_trusts_stored_id_else_finds_by_name(
    backend: AwsBatchBackend, config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock
) -> None:
    job_id = backend.submit(request(1))
    restarted = AwsBatchBackend(config, batch=batch, s3=s3, clock=clock, sleep=clock.sleep)
    counter = CallCounter(batch)
    assert restarted.recover(request(1), "stored-id") == "stored-id"
    assert not counter.calls
    assert restarted.recover(request(1), None) == job_id
    assert restarted.recover(request(2), None) is None


class SpotReclaims:
    """A Batch client whose DescribeJobs says the listed jobs lost their Spot host."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch
        self.reclaimed: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.batch, name)

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        found = self.batch.describe_jobs(jobs=jobs)
        for job in found["jobs"]:
            if job["jobId"] in self.reclaimed:
                job["status"] = "FAILED"
                job["statusReason"] = "Host EC2 (instance i-0123) terminated."
        return dict(found)


@pytest.mark.parametrize("fallback", [False, True])
def test_spot_reclaims_up_to_preemptible_then_fallback_or_fail(
    config: dict[str, Any], batch: Any, s3: Any, clock: FakeClock, fallback: bool
) -> None:
    if fallback:
        iam = boto3.client("iam", region_name=REGION)
        config = {**config, "fallbackQueueArn": make_queue(batch, iam, "ondemand")}
    spot = SpotReclaims(batch)
    backend = AwsBatchBackend(config, batch=spot, s3=s3, clock=clock, sleep=clock.sleep)
    queues, retryable = [], []
    for attempt in (1, 2, 3):
        req = dataclasses.replace(request(0, preemptible=1), attempt=attempt)
        job_id = backend.submit(req)
        queues.append(backend.jobs[job_id].queue_arn)
        spot.reclaimed.add(job_id)
        state = backend.poll([job_id])[job_id]
        clock.now += 1.0  # the engine's next poll
        assert state.status is JobStatus.FAILED
        retryable.append(state.retryable)
    default = config["default-runtime-attributes"]["queueArn"]
    if fallback:
        assert queues == [default, default, config["fallbackQueueArn"]]
        assert retryable == [True, True, False]
    else:
        assert queues == [default, default, default]
        assert retryable == [True, False, False]


def test_definition_deregistered_behind_our_back_is_registered_again(
    backend: AwsBatchBackend, batch: Any
) -> None:
    first = backend.jobs[backend.submit(request(0))].job_definition_arn
    batch.deregister_job_definition(jobDefinition=first)

    def inactive(params: dict[str, Any], **_: Any) -> None:  # what Batch says; moto does not
        if params["jobDefinition"] == first:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ClientException",
                        "Message": f"JobDefinition {first} inactive",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "SubmitJob",
            )

    batch.meta.events.register("provide-client-params.batch.SubmitJob", inactive)
    counter = CallCounter(batch)
    job_id = backend.submit(request(1))
    assert backend.jobs[job_id].job_definition_arn != first
    assert counter.calls["RegisterJobDefinition"] == 1
    assert counter.calls["SubmitJob"] == 2  # refused once, then on the new definition


def test_tags_are_sanitized() -> None:
    req = dataclasses.replace(request(0), options={"labels": {"team": "genomics#1", "x?": "y"}})
    tags = job_tags(req)
    assert tags["label:team"] == "genomics_1"
    assert tags["label:x_"] == "y"
    assert tags["ironside:call"] == "wf.hello"


def test_runtime_and_options_parsed_once_per_distinct_value(backend: AwsBatchBackend) -> None:
    runtime = {"docker": "ubuntu:24.04", "cpu": 2, "memory": "1 GiB"}
    first = backend.runtime_of(dict(runtime))
    assert backend.runtime_of(dict(runtime)) is first
    assert backend.runtime_of({**runtime, "cpu": 3}).vcpus == 3
    assert backend.runtime_of({**runtime, "cpu": "2"}) is not first  # "2" is not 2
    options = {"aws_batch_job_role_arn": ROLE_A}
    assert backend.options_of(dict(options)) is backend.options_of(dict(options))
    assert backend.options_of({"aws_batch_job_role_arn": ROLE_B}).job_role_arn == ROLE_B


def test_a_bad_runtime_fails_every_time_it_is_asked(backend: AwsBatchBackend) -> None:
    for _ in range(2):
        with pytest.raises(BadRuntimeAttribute, match="cpu"):
            backend.runtime_of({"docker": "ubuntu:24.04", "cpu": "lots"})
