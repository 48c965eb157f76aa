"""Settings: defaults, parsing, and bad context failing synth with the key's name."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from stacks.settings import Settings, SettingsError
from tests.stacks.synth import build

GOOD_ROLE = "arn:aws:iam::123456789012:role/genomics"
GOOD_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/dh-AbCdEf"

BAD_CONTEXT: list[tuple[str, Any]] = [
    ("spotMaxVcpus", -4),
    ("spotMinVcpus", "-1"),
    ("onDemandMaxVcpus", "lots"),
    ("onDemandMinVcpus", 100),  # above onDemandMaxVcpus (64)
    ("allowedJobRoleArns", ["arn:aws:iam::123:role/short-account"]),
    ("allowedJobRoleArns", "not-an-arn"),
    ("dockerHubSecretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-x"),
    ("dockerHubSecretArn", "secret"),
    ("batchInstanceTypes", ["m6i", "q9z"]),
    ("batchInstanceTypes", "m6i.large,zz1.large"),
    ("engineInstanceType", "t3"),
    ("engineInstanceType", "foo.large"),
    ("batchAmiId", "ami-xyz"),
    ("spotAllocationStrategy", "CHEAPEST"),
    ("spotAllocationStrategy", "BEST_FIT"),
    ("spotBidPercentage", 150),
    ("databaseMinCapacity", 0.3),
    ("databaseMaxCapacity", 300),
    ("databaseMinCapacity", 8),  # above databaseMaxCapacity (4)
    ("removalPolicy", "keep"),
    ("deletionProtection", "maybe"),
    ("logRetentionDays", 10),
    ("bucketEncryption", "none"),
    ("namePrefix", "Ironside_Prod"),
    ("maxAzs", 0),
    ("tags", {"aws:reserved": "x"}),
    ("vpcId", "vpc-123"),
    ("vpcCidr", "10.0.0.0/16"),  # only read with vpcId, so test it with one
    ("batchInstanceTypes", ["m6i", "m7g"]),  # one environment, one architecture
    ("batchInstanceTypes", ["a1"]),  # Amazon Linux 2023 does not run on A1
    ("gpuInstanceTypes", ["m6i"]),  # not a GPU family
    ("gpuInstanceTypes", ["g5", "g5g"]),  # x86_64 and arm64
    ("readBuckets", ["s3://bucket"]),
    ("readWriteBuckets", ["*"]),  # a wildcard only for reading
    ("ghcrSecretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:gh-x"),
    ("alarmEmail", "not-an-address"),
    ("engineCertificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/abc"),  # no LB
    ("kmsKeyArn", "alias/mine"),
    ("jobRunnableTimeoutMinutes", 1),
]


@pytest.mark.parametrize(("key", "value"), BAD_CONTEXT, ids=[f"{k}={v!r}" for k, v in BAD_CONTEXT])
def test_bad_context_names_the_key(key: str, value: Any) -> None:
    context: dict[str, Any] = {key: value}
    if key == "vpcCidr":
        context = {"vpcId": "vpc-0123456789abcdef0", "vpcCidr": "10.0.0.0"}
    with pytest.raises(SettingsError) as error:
        Settings.from_mapping(context)
    assert f"'ironside:{key}'" in str(error.value)


def test_bad_context_fails_the_app_before_synth(tmp_path: Any) -> None:
    with pytest.raises(SettingsError, match="'ironside:spotMaxVcpus'"):
        build(str(tmp_path), {"ironside:spotMaxVcpus": -1})


def test_misspelled_key_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    app = cdk.App(context={"ironside:spotMaxVcpu": 8, "ironside:pipelineBranch": "main"})
    Settings.from_context(app.node, other_keys=["pipelineBranch"])
    err = capsys.readouterr().err
    assert "'ironside:spotMaxVcpu'" in err and "pipelineBranch" not in err


def test_defaults() -> None:
    settings = Settings.from_mapping({})
    assert settings.batch_ami_id is None  # ECS-optimized Amazon Linux 2023
    assert settings.engine_instance_type == "t3.medium"
    assert settings.log_retention_days == 90
    assert settings.deletion_protection is True
    assert settings.docker_hub_secret_arn is None  # no Docker Hub rule, no mirror
    assert settings.gpu_instance_types == ()  # no GPU environment
    assert settings.job_runnable_timeout_minutes == 240
    assert (settings.read_buckets, settings.read_write_buckets) == ((), ())


def test_no_nat_without_the_endpoints_hosts_need_is_refused_naming_them() -> None:
    """Item 17.6: natGateways=0 fails synth, naming the endpoints the hosts would lack."""
    with pytest.raises(SettingsError) as error:
        Settings.from_mapping({"natGateways": 0, "logsEndpoint": "false"})
    message = str(error.value)
    assert "'ironside:natGateways'" in message
    assert "logs (logsEndpoint)" in message and "s3 (s3Endpoint)" not in message
    for name in ("ssm", "ssmmessages", "ec2messages", "cloudformation", "autoscaling", "sts"):
        assert name in message
    assert "boots fetch only the kit's S3 assets" in message
    # The assets (wheelhouses, CLI, CA bundle, scripts) come through the S3 gateway endpoint.
    with pytest.raises(SettingsError, match=r"s3 \(s3Endpoint\)"):
        Settings.from_mapping({"natGateways": 0, "s3Endpoint": "false"})


def test_mixed_architectures_are_refused_with_the_families() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_mapping({"batchInstanceTypes": ["m6i", "c7g.large", "r6i"]})
    message = str(error.value)
    assert "'ironside:batchInstanceTypes'" in message
    assert "arm64: c7g.large" in message and "x86_64: m6i, r6i" in message


def test_strings_from_the_command_line_are_parsed() -> None:
    settings = Settings.from_mapping(
        {
            "spotMaxVcpus": "512",
            "deletionProtection": "false",
            "allowedJobRoleArns": f"{GOOD_ROLE}, {GOOD_ROLE}2",
            "batchInstanceTypes": '["c7i", "m7i.2xlarge"]',
            "dockerHubSecretArn": GOOD_SECRET,
            "databaseMaxCapacity": "8.5",
            "tags": '{"team": "genomics"}',
        }
    )
    assert settings.spot_max_vcpus == 512
    assert settings.deletion_protection is False
    assert settings.allowed_job_role_arns == (GOOD_ROLE, f"{GOOD_ROLE}2")
    assert settings.batch_instance_types == ("c7i", "m7i.2xlarge")
    assert settings.database_max_capacity == 8.5
    assert settings.tags == {"team": "genomics"}


def test_existing_vpc() -> None:
    settings = Settings.from_mapping(
        {
            "vpcId": "vpc-0123456789abcdef0",
            "vpcCidr": "10.1.0.0/16",
            "availabilityZones": "us-east-1a,us-east-1b",
            "privateSubnetIds": "subnet-11111111,subnet-22222222",
            "isolatedSubnetIds": "subnet-33333333,subnet-44444444",
            "privateRouteTableIds": "rtb-11111111,rtb-22222222",
        }
    )
    assert settings.existing_vpc is not None
    assert settings.existing_vpc.private_subnet_ids == ("subnet-11111111", "subnet-22222222")
    with pytest.raises(SettingsError, match="'ironside:isolatedSubnetIds'"):
        Settings.from_mapping(
            {
                "vpcId": "vpc-0123456789abcdef0",
                "vpcCidr": "10.1.0.0/16",
                "availabilityZones": "us-east-1a,us-east-1b",
                "privateSubnetIds": "subnet-11111111,subnet-22222222",
                "isolatedSubnetIds": "subnet-33333333",
            }
        )
