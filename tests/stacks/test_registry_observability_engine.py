"""Registry, observability and engine stacks."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk.assertions import Match

from stacks.artifacts import ENGINE_ARTIFACTS_DIR
from tests.stacks.conftest import Synthesized
from tests.stacks.helpers import flatten, statements


def test_pull_through_cache_rules(synth: Synthesized) -> None:
    rules = {
        r["Properties"]["UpstreamRegistry"]: r["Properties"]
        for r in synth.resources("registry", "AWS::ECR::PullThroughCacheRule").values()
    }
    assert set(rules) == {"docker-hub", "ecr-public"}
    assert rules["docker-hub"]["UpstreamRegistryUrl"] == "registry-1.docker.io"
    assert rules["docker-hub"]["EcrRepositoryPrefix"] == "ironside-docker-hub"
    assert rules["ecr-public"]["UpstreamRegistryUrl"] == "public.ecr.aws"
    assert "CredentialArn" not in rules["ecr-public"]
    secrets = synth.resources("registry", "AWS::SecretsManager::Secret")
    [(secret_id, secret)] = secrets.items()
    assert secret["Properties"]["Name"].startswith("ecr-pullthroughcache/")
    assert rules["docker-hub"]["CredentialArn"] == {"Ref": secret_id}


def test_repository_creation_templates(synth: Synthesized) -> None:
    templates = synth.resources("registry", "AWS::ECR::RepositoryCreationTemplate").values()
    assert sorted(t["Properties"]["Prefix"] for t in templates) == [
        "ironside-docker-hub",
        "ironside-ecr-public",
    ]
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
    rules = synth.resources("observability", "AWS::Events::Rule").values()
    assert len(rules) == 6
    for rule in rules:
        [target] = rule["Properties"]["Targets"]
        assert flatten(target["Arn"]).endswith(":log-group:/ironside/batch/job-events")
    template.has_resource("AWS::Logs::ResourcePolicy", {})
    template.has_resource_properties(
        "Custom::AWS", {"Create": Match.string_like_regexp("putAccountSettingDefault")}
    )


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
        "/ironside-docker-hub",
        "database { url = ${IRONSIDE_DATABASE_URL} }",
        "bash $artifacts/engine/bootstrap.sh",
    ):
        assert needle in text, needle
    assert "password" not in text.lower()
    [template] = synth.resources("engine", "AWS::EC2::LaunchTemplate").values()
    raw = json.dumps(template["Properties"]["LaunchTemplateData"]["UserData"])
    assert "ironside-batch:ExportsOutputFnGetAttComputeDefaultQueue" in raw
    assert "ironside-batch:ExportsOutputFnGetAttComputePriorityQueue" in raw


def test_engine_host_scripts_install_the_wheel_and_run_under_systemd() -> None:
    bootstrap = (ENGINE_ARTIFACTS_DIR / "bootstrap.sh").read_text()
    assert "python3.11 -m venv /opt/ironside/venv" in bootstrap
    assert "pip install" in bootstrap and "*.whl" in bootstrap
    assert "systemctl enable --now ironside.service ironside-health.timer" in bootstrap
    unit = (ENGINE_ARTIFACTS_DIR / "ironside.service").read_text()
    assert "Restart=always" in unit and "ironside server --config" in unit
    assert "global-bundle.pem" in bootstrap
    env = (ENGINE_ARTIFACTS_DIR / "ironside-env.sh").read_text()
    assert "ssl_ca=/etc/ironside/rds-ca.pem" in env and "IRONSIDE_SERVER_TOKEN=" in env
    health = (ENGINE_ARTIFACTS_DIR / "ironside-health.sh").read_text()
    assert "/engine/v1/status" in health and "set-instance-health" in health


def test_engine_group_of_one_private_no_ssh(synth: Synthesized) -> None:
    [group] = synth.resources("engine", "AWS::AutoScaling::AutoScalingGroup").values()
    props = group["Properties"]
    assert (props["MinSize"], props["MaxSize"]) == ("1", "1")
    assert props["AutoScalingGroupName"] == "ironside-engine"
    # No replacing update: the pipeline's RollEngineHost step refreshes the instance.
    policy = group.get("UpdatePolicy", {})
    assert "AutoScalingReplacingUpdate" not in policy and "AutoScalingRollingUpdate" not in policy
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


def test_runtime_wheel_is_built_and_shipped(synth: Synthesized) -> None:
    staged = [p for p in Path(synth.outdir).glob("asset.*") if p.is_dir()]
    wheels = [w for d in staged for w in d.glob("ironside-*.whl")]
    assert len(wheels) == 1
