"""Registry, observability and engine stacks."""

from __future__ import annotations

import json
from pathlib import Path

from stacks.artifacts import ENGINE_ARTIFACTS_DIR
from tests.stacks.conftest import Synthesized
from tests.stacks.helpers import flatten, statements


def test_pull_through_cache_rules(synth: Synthesized) -> None:
    """Without credentials: ECR Public and Quay only, no Docker Hub rule, no secret."""
    rules = {
        r["Properties"]["UpstreamRegistry"]: r["Properties"]
        for r in synth.resources("registry", "AWS::ECR::PullThroughCacheRule").values()
    }
    assert set(rules) == {"quay", "ecr-public"}
    assert rules["quay"]["UpstreamRegistryUrl"] == "quay.io"
    assert rules["quay"]["EcrRepositoryPrefix"] == "ironside-quay"
    assert rules["ecr-public"]["UpstreamRegistryUrl"] == "public.ecr.aws"
    assert all("CredentialArn" not in rule for rule in rules.values())
    assert synth.resources("registry", "AWS::SecretsManager::Secret") == {}


def test_repository_creation_templates(synth: Synthesized) -> None:
    """No resource tags and no KMS key: ECR would need a custom role for either."""
    templates = synth.resources("registry", "AWS::ECR::RepositoryCreationTemplate").values()
    assert sorted(t["Properties"]["Prefix"] for t in templates) == [
        "ironside-ecr-public",
        "ironside-quay",
    ]
    for template in templates:
        assert "ResourceTags" not in template["Properties"]
        assert "CustomRoleArn" not in template["Properties"]
        assert "KmsKey" not in template["Properties"]["EncryptionConfiguration"]
    for template in templates:
        assert template["Properties"]["AppliedFor"] == ["PULL_THROUGH_CACHE"]
        assert template["Properties"]["EncryptionConfiguration"]["EncryptionType"] == "AES256"


def test_log_groups_with_retention(synth: Synthesized) -> None:
    groups = synth.resources("observability", "AWS::Logs::LogGroup").values()
    assert sorted(g["Properties"]["LogGroupName"] for g in groups) == [
        "/ironside/batch/hosts",
        "/ironside/batch/job-events",
        "/ironside/batch/jobs",
        "/ironside/engine",
    ]
    assert {g["Properties"]["RetentionInDays"] for g in groups} == {90}


def test_dashboard_alarms_and_container_insights(synth: Synthesized) -> None:
    template = synth.template("observability")
    [dashboard] = synth.resources("observability", "AWS::CloudWatch::Dashboard").values()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for needle in ("RUNNABLE", "ironside-default", "ironside-priority", "CPUUtilization",
                   "mem_used_percent", "DatabaseConnections"):  # fmt: skip
        assert needle in body
    alarms = {
        a["Properties"]["AlarmName"]: a
        for a in synth.resources("observability", "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {"ironside-failed-jobs", "ironside-engine-unhealthy"}
    # Every alarm notifies someone: the platform's topic (alarmEmail subscribes to it).
    [topic_id] = synth.resources("observability", "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    rules = synth.resources("observability", "AWS::Events::Rule").values()
    assert len(rules) == 6
    for rule in rules:
        [target] = rule["Properties"]["Targets"]
        assert flatten(target["Arn"]).endswith(":log-group:/ironside/batch/job-events")
    template.has_resource("AWS::Logs::ResourcePolicy", {})


def test_container_insights_on_the_kit_s_clusters_only(synth: Synthesized) -> None:
    """Item 17.11: per cluster of the kit's compute environments, never the account default."""
    for stack in synth.templates.values():
        assert "putAccountSettingDefault" not in json.dumps(stack)
    calls = [
        json.loads(flatten(r["Properties"]["Create"]))
        for r in synth.resources("batch", "Custom::AWS").values()
    ]
    described = [c for c in calls if c["action"] == "describeComputeEnvironments"]
    updated = [c for c in calls if c["action"] == "updateClusterSettings"]
    assert len(described) == len(updated) == 2  # Spot and On-Demand
    for call in updated:
        assert call["parameters"]["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    policies = synth.resources("batch", "AWS::IAM::Policy")
    update_grants = [
        s for s in statements(policies) if s.get("Action") == "ecs:UpdateClusterSettings"
    ]
    assert update_grants and all(
        flatten(s["Resource"]).endswith(":cluster/*_Batch_*") for s in update_grants
    )


def test_log_groups_are_kept_on_stack_deletion(synth: Synthesized) -> None:
    """removalPolicy=retain (the default) keeps every log group of every stack."""
    groups = [
        (name, r)
        for name, t in synth.templates.items()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]
    assert len(groups) >= 7
    for name, group in groups:
        assert group.get("DeletionPolicy") == "Retain", name


def _engine_user_data(synth: Synthesized) -> str:
    [template] = synth.resources("engine", "AWS::EC2::LaunchTemplate").values()
    return flatten(template["Properties"]["LaunchTemplateData"]["UserData"])


def test_engine_user_data_writes_config_and_bootstraps(synth: Synthesized) -> None:
    text = _engine_user_data(synth)
    assert text.startswith("#!/bin/bash")
    for needle in (
        "/etc/ironside/ironside.conf",
        "IRONSIDE_DATABASE_SECRET_ARN=",
        "IRONSIDE_API_TOKEN_SECRET_ARN=",
        "IRONSIDE_WHEEL_URL=s3://",
        'backend {\n  default = "AWSBatch"',
        'root = "s3://ironside-results-',
        'scriptBucketName = "ironside-scripts-',
        'queueArn = "',
        'logGroupName = "/ironside/batch/jobs"',
        "/ironside-quay",
        "database { url = ${IRONSIDE_DATABASE_URL} }",
        "bash $artifacts/engine/bootstrap.sh",
    ):
        assert needle in text, needle
    assert "password" not in text.lower()
    assert "dockerhub" not in text  # no Docker Hub mirror without its credentials
    [template] = synth.resources("engine", "AWS::EC2::LaunchTemplate").values()
    raw = json.dumps(template["Properties"]["LaunchTemplateData"]["UserData"])
    assert "ironside-batch:ExportsOutputFnGetAttComputeDefaultQueue" in raw
    assert "ironside-batch:ExportsOutputFnGetAttComputePriorityQueue" in raw


def test_engine_host_scripts_install_the_wheel_and_run_under_systemd() -> None:
    bootstrap = (ENGINE_ARTIFACTS_DIR / "bootstrap.sh").read_text()
    assert "python3.11 -m venv /opt/ironside/venv" in bootstrap
    assert "install_wheelhouse.sh" in bootstrap and "$IRONSIDE_WHEEL_SHA256" in bootstrap
    assert "systemctl enable --now ironside.service ironside-health.timer" in bootstrap
    unit = (ENGINE_ARTIFACTS_DIR / "ironside.service").read_text()
    assert "Restart=always" in unit and "ironside server --config" in unit
    assert '"$IRONSIDE_RDS_CA_URL"' in bootstrap and "sha256sum -c" in bootstrap
    env = (ENGINE_ARTIFACTS_DIR / "ironside-env.sh").read_text()
    assert "ssl_ca=/etc/ironside/rds-ca.pem" in env and "IRONSIDE_SERVER_TOKEN=" in env
    # The creation/update policy's signal: SUCCESS only once the API answers.
    answered = bootstrap.index('"http://127.0.0.1:${PORT}/engine/v1/status"')
    assert bootstrap.index("signal SUCCESS") > answered
    assert "trap 'echo \"bootstrap: failed" in bootstrap and "signal FAILURE" in bootstrap
    health = (ENGINE_ARTIFACTS_DIR / "ironside-health.sh").read_text()
    assert "/engine/v1/status" in health and "set-instance-health" in health


def test_engine_group_of_one_private_no_ssh(synth: Synthesized) -> None:
    [group] = synth.resources("engine", "AWS::AutoScaling::AutoScalingGroup").values()
    props = group["Properties"]
    assert (props["MinSize"], props["MaxSize"]) == ("1", "1")
    assert props["AutoScalingGroupName"] == "ironside-engine"
    # A failed bootstrap fails the deployment: CloudFormation waits for the host's signal
    # on create and on every rolling update (never a replacing one: the name is fixed).
    assert group["CreationPolicy"] == {"ResourceSignal": {"Count": 1, "Timeout": "PT30M"}}
    policy = group["UpdatePolicy"]
    assert "AutoScalingReplacingUpdate" not in policy
    rolling = policy["AutoScalingRollingUpdate"]
    assert rolling["WaitOnResourceSignals"] is True
    assert (rolling["MaxBatchSize"], rolling["MinInstancesInService"]) == (1, 0)
    outputs = synth.templates[synth.settings.name("engine")]["Outputs"]
    assert outputs["EnginePort"]["Value"] == "8000"
    assert outputs["EngineAutoScalingGroupName"]["Value"] == {
        "Ref": next(iter(synth.resources("engine", "AWS::AutoScaling::AutoScalingGroup")))
    }
    assert all("private" in s["Fn::ImportValue"] for s in props["VPCZoneIdentifier"])
    [template] = synth.resources("engine", "AWS::EC2::LaunchTemplate").values()
    data = template["Properties"]["LaunchTemplateData"]
    assert "KeyName" not in data
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert "NetworkInterfaces" not in data  # no public IP association


def test_engine_host_policy(synth: Synthesized) -> None:
    by_sid = {s["Sid"]: s for s in statements(synth.resources("engine", "AWS::IAM::Policy"))}
    assert by_sid["SelfHealing"]["Action"] == "autoscaling:SetInstanceHealth"
    assert flatten(by_sid["SelfHealing"]["Resource"]).endswith(
        "autoScalingGroupName/ironside-engine"
    )
    assert by_sid["AgentMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "CWAgent"}
    }
    assert "secretsmanager:GetSecretValue" in by_sid["ReadApiToken"]["Action"]
    # The host signals its own stack's group, nothing else.
    assert by_sid["SignalDeployment"] == {
        "Sid": "SignalDeployment",
        "Effect": "Allow",
        "Action": "cloudformation:SignalResource",
        "Resource": {"Ref": "AWS::StackId"},
    }
    [group_id] = synth.resources("engine", "AWS::AutoScaling::AutoScalingGroup")
    assert f"IRONSIDE_SIGNAL_RESOURCE={group_id}" in _engine_user_data(synth)


def test_runtime_wheel_is_built_and_shipped(synth: Synthesized) -> None:
    staged = [p for p in Path(synth.outdir).glob("asset.*") if p.is_dir()]
    wheels = [w for d in staged for w in d.glob("ironside-*.whl")]
    assert len(wheels) == 1
