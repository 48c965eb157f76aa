"""The synthesized pipeline (connection source, the kit's own stages)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from pipeline.rollout import ENGINE_OUTPUTS, LAUNCH_TEMPLATE_OUTPUTS, PLATFORM_TAG
from pipeline.synth import SYNTH_COMMANDS, cdk_cli_version
from tests.pipeline.synth import Synthesized, cfn_lint


def buildspec(synth: Synthesized, action: dict[str, Any]) -> dict[str, Any]:
    """The buildspec of the CodeBuild project a pipeline action runs."""
    project = synth.json["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
    spec: dict[str, Any] = json.loads(project["Properties"]["Source"]["BuildSpec"])
    return spec


def env_vars(action: dict[str, Any]) -> dict[str, str]:
    """``{name: value}`` of a CodeBuild action's environment variables."""
    variables = json.loads(action["Configuration"]["EnvironmentVariables"])
    return {v["name"]: v["value"] for v in variables}


def deploys(synth: Synthesized, stage: str) -> list[dict[str, Any]]:
    """The CloudFormation actions of a stage."""
    actions = synth.stage(stage)["Actions"]
    return [a for a in actions if a["ActionTypeId"]["Provider"] == "CloudFormation"]


def test_stage_order(real: Synthesized) -> None:
    (pipeline,) = real.resources("AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["Name"] == "ironside-pipeline"
    assert pipeline["Properties"]["PipelineType"] == "V2"
    names = [stage["Name"] for stage in real.stages]
    assert names == ["Source", "Build", "UpdatePipeline", "Assets", "staging", "production"]


def test_synth_step_tests_then_synthesizes_then_lints(real: Synthesized) -> None:
    spec = buildspec(real, real.action("Build", "Synth"))
    commands = spec["phases"]["build"]["commands"]
    assert commands == list(SYNTH_COMMANDS)
    assert commands[0] == "make test"  # the README's test command, first
    assert commands[1] == "make synth"  # npx cdk synth; cdk-nag runs inside the app
    assert commands[2].startswith(".venv/bin/cfn-lint ")
    assert "cdk.out/assembly-*/*.template.json" in commands[2]
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    assert spec["phases"]["install"]["runtime-versions"]["python"] == "3.12"


def test_every_stage_after_build_consumes_the_synth_output(real: Synthesized) -> None:
    """A failing synth produces no artifact, so nothing after it runs."""
    synth_output = real.action("Build", "Synth")["OutputArtifacts"][0]["Name"]
    for stage in ("staging", "production"):
        for action in deploys(real, stage):
            if action["Name"].endswith(".Prepare"):
                assert action["InputArtifacts"] == [{"Name": synth_output}]


def test_self_mutation_uses_the_pinned_cli(real: Synthesized) -> None:
    spec = buildspec(real, real.action("UpdatePipeline", "SelfMutate"))
    assert f"npm install -g aws-cdk@{cdk_cli_version()}" in spec["phases"]["install"]["commands"]
    (command,) = spec["phases"]["build"]["commands"]
    assert "deploy IronsidePipeline" in command


def test_manual_approval_between_staging_and_production(real: Synthesized) -> None:
    first, *rest = real.stage("production")["Actions"]
    assert first["Name"] == "PromoteToProduction"
    assert first["ActionTypeId"]["Category"] == "Approval"
    assert first["ActionTypeId"]["Provider"] == "Manual"
    assert all(action["RunOrder"] > first["RunOrder"] for action in rest)
    staging = real.stage("staging")["Actions"]
    assert not [a for a in staging if a["ActionTypeId"]["Category"] == "Approval"]


def test_each_stage_deploys_the_kit_with_its_own_settings(real: Synthesized) -> None:
    roles = {"network", "storage", "observability", "registry", "database", "batch", "iam"}
    roles.add("engine")
    for stage, prefix in (("staging", "ironside-stg"), ("production", "ironside")):
        stacks = {a["Configuration"]["StackName"] for a in deploys(real, stage)}
        assert stacks == {f"{stage}-{prefix}-{role}" for role in roles}
    staging = next(real.outdir.glob("assembly-*-staging/*batch*.template.json"))
    resources = json.loads(staging.read_text())["Resources"].values()
    queues = [r for r in resources if r["Type"] == "AWS::Batch::JobQueue"]
    assert {q["Properties"]["JobQueueName"] for q in queues} == {
        "ironside-stg-default",
        "ironside-stg-priority",
    }


def rollout(real: Synthesized, stage: str, name: str) -> dict[str, Any]:
    """A rollout action; asserts it runs after every deployment of its stage."""
    action = real.action(stage, name)
    assert action["RunOrder"] > max(a["RunOrder"] for a in deploys(real, stage))
    return action


def test_launch_template_rollout_after_each_deployment(real: Synthesized) -> None:
    for stage, prefix in (("staging", "ironside-stg"), ("production", "ironside")):
        action = rollout(real, stage, "RollOutLaunchTemplate")
        namespace = next(
            a["Namespace"] for a in deploys(real, stage) if a["Name"] == f"{prefix}-batch.Deploy"
        )
        assert env_vars(action) == {
            variable: f"#{{{namespace}.{output}}}"
            for variable, output in LAUNCH_TEMPLATE_OUTPUTS.items()
        }
        spec = buildspec(real, action)
        assert spec["phases"]["build"]["commands"] == [
            "bash pipeline/scripts/update_compute_environments.sh"
        ]


def test_engine_rollout_after_each_deployment(real: Synthesized) -> None:
    for stage, prefix in (("staging", "ironside-stg"), ("production", "ironside")):
        action = rollout(real, stage, "RollEngineHost")
        namespace = next(
            a["Namespace"] for a in deploys(real, stage) if a["Name"] == f"{prefix}-engine.Deploy"
        )
        assert env_vars(action) == {
            variable: f"#{{{namespace}.{output}}}" for variable, output in ENGINE_OUTPUTS.items()
        }
        assert buildspec(real, action)["phases"]["build"]["commands"] == [
            "bash pipeline/scripts/roll_engine_host.sh"
        ]


def test_the_kit_exports_what_the_rollouts_read(real: Synthesized) -> None:
    batch = json.loads(
        next(real.outdir.glob("assembly-*-staging/*batch*.template.json")).read_text()
    )
    template = batch["Outputs"]["BatchLaunchTemplateVersion"]["Value"]["Fn::GetAtt"]
    assert template[1] == "LatestVersionNumber"
    assert batch["Resources"][template[0]]["Type"] == "AWS::EC2::LaunchTemplate"
    arns = batch["Outputs"]["BatchComputeEnvironmentArns"]["Value"]["Fn::Join"]
    assert arns[0] == "," and len(arns[1]) == 2
    engine = json.loads(
        next(real.outdir.glob("assembly-*-staging/*engine*.template.json")).read_text()
    )
    assert engine["Outputs"]["EnginePort"]["Value"] == "8000"
    group = engine["Outputs"]["EngineAutoScalingGroupName"]["Value"]["Ref"]
    assert engine["Resources"][group]["Properties"]["AutoScalingGroupName"] == "ironside-stg-engine"


def role_statements(real: Synthesized, project_ref: str) -> list[dict[str, Any]]:
    """The statements of the policies attached to a CodeBuild project's role."""
    project = real.json["Resources"][project_ref]
    role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    found: list[dict[str, Any]] = []
    for policy in real.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def statement(statements: list[dict[str, Any]], action: str) -> dict[str, Any]:
    """The one statement granting ``action``."""
    (found,) = [s for s in statements if action in (s["Action"], *list(s["Action"]))]
    return found


def test_launch_template_rollout_role_is_scoped_to_the_stage(real: Synthesized) -> None:
    for stage, prefix in (("staging", "ironside-stg"), ("production", "ironside")):
        project = real.action(stage, "RollOutLaunchTemplate")["Configuration"]["ProjectName"]
        statements = role_statements(real, project["Ref"])
        update = statement(statements, "batch:UpdateComputeEnvironment")
        tag = {"StringEquals": {f"aws:ResourceTag/{PLATFORM_TAG}": prefix}}
        assert update["Condition"] == tag
        actions = {
            a
            for s in statements
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert not {a for a in actions if a.startswith(("autoscaling:", "ssm:"))}


def test_engine_rollout_role_is_scoped_to_the_engine_group(real: Synthesized) -> None:
    for stage, prefix in (("staging", "ironside-stg"), ("production", "ironside")):
        project = real.action(stage, "RollEngineHost")["Configuration"]["ProjectName"]
        statements = role_statements(real, project["Ref"])
        refresh = statement(statements, "autoscaling:StartInstanceRefresh")
        assert json.dumps(refresh["Resource"]).endswith(
            f'autoScalingGroupName/{prefix}-engine"]]}}'
        )
        send = [s for s in statements if s["Action"] == "ssm:SendCommand"]
        conditions = [s.get("Condition") for s in send]
        group = {"StringEquals": {"ssm:resourceTag/aws:autoscaling:groupName": f"{prefix}-engine"}}
        assert group in conditions
        documents = [json.dumps(s["Resource"]) for s in send if "Condition" not in s]
        assert len(documents) == 1 and "document/AWS-RunShellScript" in documents[0]
        actions = {
            a
            for s in statements
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert "batch:UpdateComputeEnvironment" not in actions


def test_artifacts_bucket_is_kms_encrypted_and_logged(real: Synthesized) -> None:
    (pipeline,) = real.resources("AWS::CodePipeline::Pipeline").values()
    store = pipeline["Properties"]["ArtifactStore"]
    bucket_id = store["Location"]["Ref"]
    key_id = store["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    bucket = real.json["Resources"][bucket_id]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": [key_id, "Arn"]
    }
    assert real.json["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert "DestinationBucketName" in bucket["LoggingConfiguration"]
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    real.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )


def test_every_codebuild_project_encrypts_with_the_artifact_key(real: Synthesized) -> None:
    projects = real.resources("AWS::CodeBuild::Project").values()
    keys = {json.dumps(p["Properties"]["EncryptionKey"]) for p in projects}
    assert len(keys) == 1 and "ArtifactStoreKey" in keys.pop()


def test_cfn_lint_clean(real: Synthesized) -> None:
    """No errors and no warnings on the pipeline stack's or any stage's template."""
    templates = real.templates()
    assert len(templates) == 1 + 2 * 8
    result = cfn_lint(templates)
    assert result.returncode == 0, result.stdout + result.stderr
