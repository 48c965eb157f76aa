"""IAM stack: the job role's exact trust policy, the engine role's permissions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_secretsmanager as sm
from aws_cdk.assertions import Template

from stacks.roles.engine_role import EngineRoleProps, engine_role
from stacks.roles.job_role import JobRoleProps, job_role
from tests.stacks.conftest import Synthesized
from tests.stacks.helpers import actions, statements

TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole",
}


def _job_role(synth: Synthesized) -> tuple[str, dict]:
    roles = synth.resources("iam", "AWS::IAM::Role")
    [(logical_id, role)] = [(k, v) for k, v in roles.items() if k.startswith("JobRole")]
    return logical_id, role


def test_job_role_trust_policy_is_exactly_ecs_tasks(synth: Synthesized) -> None:
    _, role = _job_role(synth)
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [TRUST]


def test_job_role_reads_and_writes_results_and_reads_scripts(synth: Synthesized) -> None:
    policies = synth.resources("iam", "AWS::IAM::Policy")
    job = {k: v for k, v in policies.items() if k.startswith("JobRole")}
    by_sid = {s["Sid"]: s for s in statements(job)}
    assert "s3:PutObject" in actions(by_sid["ResultsObjects"])
    assert "s3:PutObject" not in actions(by_sid["ScriptsObjects"])
    assert actions(by_sid["ScriptsObjects"]) == ["s3:GetObject", "s3:GetObjectTagging"]
    assert actions(by_sid["ResultsKey"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def _engine_statements(synth: Synthesized) -> dict[str, dict]:
    policies = synth.resources("iam", "AWS::IAM::Policy")
    engine = {k: v for k, v in policies.items() if k.startswith("EngineRole")}
    return {s["Sid"]: s for s in statements(engine)}


def test_engine_passes_only_the_default_job_role(synth: Synthesized) -> None:
    job_role_id, _ = _job_role(synth)
    pass_role = _engine_statements(synth)["PassJobRoles"]
    assert actions(pass_role) == ["iam:PassRole"]
    assert pass_role["Resource"] == {"Fn::GetAtt": [job_role_id, "Arn"]}


def test_engine_batch_permissions(synth: Synthesized) -> None:
    by_sid = _engine_statements(synth)
    assert actions(by_sid["SubmitToPlatformQueues"]) == ["batch:SubmitJob"]
    assert len(by_sid["SubmitToPlatformQueues"]["Resource"]) == 3  # two queues + definitions
    assert set(actions(by_sid["StopJobs"])) == {"batch:TerminateJob", "batch:CancelJob"}
    # Not account-wide: only jobs carrying the engine's own tag.
    assert by_sid["StopJobs"]["Condition"] == {
        "Null": {"aws:ResourceTag/ironside:workflow-id": "false"}
    }
    assert set(actions(by_sid["OwnJobDefinitions"])) == {
        "batch:RegisterJobDefinition",
        "batch:DeregisterJobDefinition",
    }
    definitions = by_sid["OwnJobDefinitions"]["Resource"]["Fn::Join"][1]
    assert definitions[-1] == ":job-definition/ironside-*"
    assert "batch:DescribeJobs" in actions(by_sid["DescribeAndList"])
    assert "ecr:BatchGetImage" in actions(by_sid["EcrDigestLookup"])
    assert "logs:GetLogEvents" in actions(by_sid["ReadTaskLogs"])
    assert "secretsmanager:GetSecretValue" in actions(by_sid["ReadDatabaseSecret"])
    assert "s3:PutObject" in actions(by_sid["BucketsObjects"])


def test_no_statement_allows_every_action(synth: Synthesized) -> None:
    for name, template in synth.templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                assert not any(a == "*" or a.endswith(":*") for a in actions(statement)), name


def test_pass_role_lists_the_allowed_job_roles() -> None:
    """Unit-level: the PassRole resources are the default role plus the allowed ones."""
    app = cdk.App()
    stack = cdk.Stack(app, "Roles")
    default = job_role(stack, "Job", JobRoleProps(results_bucket="r", scripts_bucket="s"))
    queue = batch.JobQueue.from_job_queue_arn(
        stack, "Q", "arn:aws:batch:us-east-1:123456789012:job-queue/q"
    )
    secret = sm.Secret.from_secret_name_v2(stack, "S", "db")
    allowed = ["arn:aws:iam::123456789012:role/genomics-a", "arn:aws:iam::123456789012:role/b"]
    engine_role(
        stack,
        "Engine",
        EngineRoleProps(
            name_prefix="ironside",
            queues=[queue],
            job_role=default,
            results_bucket="r",
            scripts_bucket="s",
            database_secret=secret,
            jobs_log_group="/ironside/batch/jobs",
            allowed_job_role_arns=allowed,
        ),
    )
    template = Template.from_stack(stack).to_json()
    policies = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Policy"}
    [pass_role] = [s for s in statements(policies) if s.get("Sid") == "PassJobRoles"]
    job_id = next(k for k in template["Resources"] if k.startswith("Job") and "Policy" not in k)
    assert pass_role["Resource"] == [{"Fn::GetAtt": [job_id, "Arn"]}, *allowed]


def test_engine_may_tag_on_create_with_its_own_tag_keys(synth: Synthesized) -> None:
    """Item 17.1: SubmitJob/RegisterJobDefinition with tags need batch:TagResource; Batch
    has no condition key for the creating action (batch:CreateAction does not exist)."""
    tag = _engine_statements(synth)["TagOwnJobsAndDefinitions"]
    assert actions(tag) == ["batch:TagResource"]
    assert "batch:CreateAction" not in json.dumps(tag)
    assert tag["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"] == [
        "ironside:*",
        "ironside-*",
        "label:*",
    ]


def test_engine_tag_keys_match_the_condition() -> None:
    """Every tag key the engine writes falls under the condition's patterns."""
    import fnmatch

    import pytest

    backend = pytest.importorskip("ironside.backends.aws_batch.backend")
    job_definitions = pytest.importorskip("ironside.backends.aws_batch.job_definitions")
    from stacks.roles.engine_role import ENGINE_JOB_TAG, ENGINE_TAG_KEY_PATTERNS

    source = Path(backend.__file__).read_text() + Path(job_definitions.__file__).read_text()
    keys = set(re.findall(r'"((?:ironside|label)[:-][a-z{}-]*)', source))
    assert ENGINE_JOB_TAG in keys
    for key in keys:
        assert any(fnmatch.fnmatchcase(key, p) for p in ENGINE_TAG_KEY_PATTERNS), key


def test_user_buckets_reach_job_and_engine_roles(tmp_path: Path) -> None:
    """Item 17.2: readBuckets / readWriteBuckets (names or ARNs; '*' for read)."""
    from tests.stacks.synth import build

    app, platform = build(
        str(tmp_path),
        {
            "ironside:readBuckets": "arn:aws:s3:::1000genomes,gcp-public-data--broad-references",
            "ironside:readWriteBuckets": "lab-data",
        },
    )
    template = Template.from_stack(platform.iam).to_json()
    policies = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Policy"}
    for role in ("JobRole", "EngineRole"):
        by_sid = {
            s["Sid"]: s
            for s in statements({k: v for k, v in policies.items() if k.startswith(role)})
        }
        read = json.dumps(by_sid["UserReadObjects"]["Resource"])
        assert ":::1000genomes/*" in read and ":::gcp-public-data--broad-references/*" in read
        assert "s3:PutObject" not in actions(by_sid["UserReadObjects"])
        assert "s3:PutObject" in actions(by_sid["UserReadWriteObjects"])
        assert ":::lab-data/*" in json.dumps(by_sid["UserReadWriteObjects"]["Resource"])
    app2, platform2 = build(str(tmp_path / "any"), {"ironside:readBuckets": "*"})
    template = Template.from_stack(platform2.iam).to_json()
    any_read = [
        s
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::IAM::Policy" and k.startswith("JobRole")
        for s in v["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ReadAnyBucketObjects"
    ]
    assert any_read and any_read[0]["Resource"] == "*"
    assert actions(any_read[0]) == ["s3:GetObject", "s3:GetObjectTagging"]
