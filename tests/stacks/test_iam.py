"""IAM stack: the job role's exact trust policy, the engine role's permissions."""

from __future__ import annotations

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
