"""``--existing-vpc 2``: the VPC, its subnets and route tables are parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.portable.conftest import BUCKET, S3Server
from tests.portable.test_package import CONSTRAINTS
from tests.stacks.test_checks import run_cfn_lint

Templates = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def existing(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dist/`` of a packaging run for an existing two-zone VPC."""
    client = s3_server.client()
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    dist = tmp_path_factory.mktemp("existing") / "dist"
    result = s3_server.run(
        "--bucket", BUCKET, "--prefix", "existing-vpc", "--existing-vpc", "2", "--dist", str(dist)
    )
    assert result.returncode == 0, result.stderr
    return dist


def _templates(dist: Path) -> Templates:
    return {
        p.name.removesuffix(".template.json"): json.loads(p.read_text())
        for p in dist.glob("*.template.json")
    }


def _of(templates: Templates, stack: str, type_: str) -> list[dict[str, Any]]:
    resources = templates[f"ironside-{stack}"]["Resources"].values()
    return [r["Properties"] for r in resources if r["Type"] == type_]


def test_the_vpc_ids_are_parameters_where_they_are_used(existing: Path) -> None:
    t = _templates(existing)
    assert _of(t, "network", "AWS::EC2::VPC") == [] and _of(t, "network", "AWS::EC2::Subnet") == []
    network = t["ironside-network"]["Parameters"]
    assert network["VpcId"]["Type"] == "AWS::EC2::VPC::Id" and "Default" not in network["VpcId"]
    private = {"Ref": "PrivateSubnetIds"}
    for environment in _of(t, "batch", "AWS::Batch::ComputeEnvironment"):
        assert environment["ComputeResources"]["Subnets"] == private
    [group] = _of(t, "engine", "AWS::AutoScaling::AutoScalingGroup")
    assert group["VPCZoneIdentifier"] == private
    [subnets] = _of(t, "database", "AWS::RDS::DBSubnetGroup")
    assert subnets["SubnetIds"] == {"Ref": "IsolatedSubnetIds"}
    gateways = [e for e in _of(t, "network", "AWS::EC2::VPCEndpoint") if "RouteTableIds" in e]
    assert [g["RouteTableIds"] for g in gateways] == [
        {"Fn::Split": [",", {"Ref": "PrivateRouteTableIds"}]}
    ]
    text = json.dumps(t)
    assert "0d0d0d0d0d0d0d" not in text and "pkgsentinel" not in text and "10.213." not in text


def test_parameters_described_and_constrained_and_lint_clean(existing: Path) -> None:
    for name, template in _templates(existing).items():
        for parameter_name, parameter in template["Parameters"].items():
            assert parameter.get("Description"), (name, parameter_name)
            typed = parameter["Type"].startswith(("AWS::", "List<AWS::"))
            assert typed or any(k in parameter for k in CONSTRAINTS), (name, parameter_name)
    manifest = json.loads((existing / "manifest.json").read_text())
    assert manifest["vpc"] == "existing (2 zones)"
    run_cfn_lint(existing)
