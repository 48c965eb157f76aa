"""A second synthesis with every optional branch switched the other way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.stacks.helpers import flatten
from tests.stacks.synth import build
from tests.stacks.test_checks import run_cfn_lint

ROLE = "arn:aws:iam::123456789012:role/genomics-team"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/dh-AbCdEf"
GHCR_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/gh-AbCdEf"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666"
VARIANT: dict[str, Any] = {
    "ironside:namePrefix": "gx",
    "ironside:vpcId": "vpc-0123456789abcdef0",
    "ironside:vpcCidr": "10.7.0.0/16",
    "ironside:availabilityZones": "us-east-1a,us-east-1b",
    "ironside:privateSubnetIds": "subnet-11111111,subnet-22222222",
    "ironside:isolatedSubnetIds": "subnet-33333333,subnet-44444444",
    "ironside:privateRouteTableIds": "rtb-11111111,rtb-22222222",
    "ironside:ecsEndpoints": "false",
    "ironside:batchEndpoint": "false",
    "ironside:bucketEncryption": "s3",
    "ironside:databaseSecretRotation": "true",
    "ironside:deletionProtection": "false",
    "ironside:removalPolicy": "destroy",
    "ironside:engineLoadBalancer": "true",
    "ironside:containerInsights": "false",
    "ironside:allowedJobRoleArns": ROLE,
    "ironside:dockerHubSecretArn": SECRET,
    "ironside:batchAmiId": "ami-0123456789abcdef0",
    "ironside:spotAllocationStrategy": "SPOT_CAPACITY_OPTIMIZED",
    "ironside:spotBidPercentage": "60",
    "ironside:ghcrSecretArn": GHCR_SECRET,
    "ironside:readBuckets": "*",
    "ironside:readWriteBuckets": "arn:aws:s3:::lab-data",
    "ironside:alarmEmail": "oncall@example.org",
    "ironside:engineCertificateArn": CERTIFICATE,
    "ironside:kmsKeyArn": KEY,
}


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    outdir = tmp_path_factory.mktemp("variant.out")
    app, _ = build(str(outdir), VARIANT, nag=True)
    app.synth()
    templates = {
        p.name.removesuffix(".template.json"): json.loads(p.read_text())
        for p in outdir.glob("*.template.json")
    }
    return outdir, templates


def _of(templates: dict[str, dict[str, Any]], stack: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in templates[stack]["Resources"].values() if r["Type"] == type_]


def test_variant_is_nag_and_lint_clean(variant: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    outdir, templates = variant
    assert len(templates) == 8
    run_cfn_lint(outdir)


def test_variant_branches(variant: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    _, t = variant
    assert _of(t, "gx-network", "AWS::EC2::VPC") == []
    # s3, ecr api/dkr, logs, secretsmanager
    assert len(_of(t, "gx-network", "AWS::EC2::VPCEndpoint")) == 5
    assert _of(t, "gx-storage", "AWS::KMS::Key") == []
    assert _of(t, "gx-database", "AWS::SecretsManager::RotationSchedule")
    [cluster] = _of(t, "gx-database", "AWS::RDS::DBCluster")
    assert cluster["Properties"]["DeletionProtection"] is False
    assert cluster["DeletionPolicy"] == "Delete"
    assert (
        _of(t, "gx-engine", "AWS::ElasticLoadBalancingV2::LoadBalancer")[0]["Properties"]["Scheme"]
        == "internal"
    )
    [group] = _of(t, "gx-engine", "AWS::AutoScaling::AutoScalingGroup")
    assert group["Properties"]["HealthCheckType"] == "ELB"
    assert _of(t, "gx-observability", "Custom::AWS") == []
    assert _of(t, "gx-registry", "AWS::SecretsManager::Secret") == []
    [rule] = [
        r
        for r in _of(t, "gx-registry", "AWS::ECR::PullThroughCacheRule")
        if r["Properties"]["UpstreamRegistry"] == "docker-hub"
    ]
    assert rule["Properties"]["CredentialArn"] == SECRET
    [ghcr] = [
        r
        for r in _of(t, "gx-registry", "AWS::ECR::PullThroughCacheRule")
        if r["Properties"]["UpstreamRegistry"] == "github-container-registry"
    ]
    assert ghcr["Properties"] == {
        "CredentialArn": GHCR_SECRET,
        "EcrRepositoryPrefix": "gx-ghcr",
        "UpstreamRegistry": "github-container-registry",
        "UpstreamRegistryUrl": "ghcr.io",
    }
    [subscription] = _of(t, "gx-observability", "AWS::SNS::Subscription")
    assert subscription["Properties"]["Endpoint"] == "oncall@example.org"
    for environment in _of(t, "gx-batch", "AWS::Batch::ComputeEnvironment"):
        assert environment["Properties"]["ComputeResources"]["Ec2Configuration"] == [
            {"ImageIdOverride": "ami-0123456789abcdef0", "ImageType": "ECS_AL2023"}
        ]
    pass_role = [
        s
        for p in _of(t, "gx-iam", "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "PassJobRoles"
    ]
    assert ROLE in pass_role[0]["Resource"] and len(pass_role[0]["Resource"]) == 2
    user_data = flatten(
        _of(t, "gx-engine", "AWS::EC2::LaunchTemplate")[0]["Properties"]["LaunchTemplateData"][
            "UserData"
        ]
    )
    assert ROLE in user_data
    # With the Docker Hub secret the engine routes Docker Hub (and GHCR) through the caches.
    assert "dockerhub { enabled = true" in user_data and "/gx-docker-hub" in user_data
    assert "ghcr { enabled = true" in user_data and "/gx-ghcr" in user_data
    host_data = _of(t, "gx-batch", "AWS::EC2::LaunchTemplate")[0]["Properties"]
    assert f"IRONSIDE_DOCKER_HUB_SECRET_ARN={SECRET}" in flatten(
        host_data["LaunchTemplateData"]["UserData"]
    )
    [secret_read] = [
        s
        for p in _of(t, "gx-batch", "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ReadDockerHubCredentials"
    ]
    assert secret_read["Action"] == "secretsmanager:GetSecretValue"
    assert secret_read["Resource"] == SECRET
    [definitions] = [
        s["Resource"]
        for p in _of(t, "gx-iam", "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "OwnJobDefinitions"
    ]
    # The engine names its definitions ironside-<image>-<hash> whatever the prefix.
    assert sorted(flatten(d).rsplit(":", 1)[-1] for d in definitions) == [
        "job-definition/gx-*",
        "job-definition/ironside-*",
    ]


def test_rotation_lambda_reaches_secrets_manager(
    variant: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    """Item 17.8: the rotation Lambda runs in the private subnets (not the isolated ones,
    which have no route to Secrets Manager) and uses the Secrets Manager endpoint."""
    _, t = variant
    [app] = _of(t, "gx-database", "AWS::Serverless::Application")
    parameters = app["Properties"]["Parameters"]
    assert flatten(parameters["vpcSubnetIds"]) == "subnet-11111111,subnet-22222222"
    assert "SecretsManagerEndpoint" in json.dumps(parameters["endpoint"])
    ingress = [
        r
        for r in t["gx-database"]["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"].get("FromPort") == 443
    ] + [
        r
        for r in t["gx-network"]["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"].get("FromPort") == 443
    ]
    assert any("Rotation" in json.dumps(r["Properties"]) for r in ingress)


def test_https_listener_encryption_and_removal(
    variant: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    """Item 17.11: HTTPS with the certificate (HTTP only redirects), the DNS name as an
    output, the operator's key on log groups and secrets, log groups deleted with
    removalPolicy=destroy, no Container Insights custom resource when it is off."""
    _, t = variant
    listeners = {
        r["Properties"]["Port"]: r["Properties"]
        for r in _of(t, "gx-engine", "AWS::ElasticLoadBalancingV2::Listener")
    }
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    assert listeners[443]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    url = t["gx-engine"]["Outputs"]["EngineApiUrl"]["Value"]
    assert flatten(url).startswith("https://") and "DNSName" in json.dumps(url)
    groups = [
        r for name, tt in t.items() for r in tt["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]  # fmt: skip
    assert groups and all(g["Properties"]["KmsKeyId"] == KEY for g in groups)
    assert all(g["DeletionPolicy"] == "Delete" for g in groups)
    [token] = _of(t, "gx-engine", "AWS::SecretsManager::Secret")
    assert token["Properties"]["KmsKeyId"] == KEY
    [database_secret] = _of(t, "gx-database", "AWS::SecretsManager::Secret")
    assert database_secret["Properties"]["KmsKeyId"] == KEY
    assert _of(t, "gx-batch", "Custom::AWS") == []
    decrypt = [
        s
        for p in _of(t, "gx-iam", "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "DecryptSecrets"
    ]
    assert decrypt and decrypt[0]["Resource"] == KEY
