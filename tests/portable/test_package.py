"""Acceptance of issue 10 on one packaging run: portable, published, parameterized, linted."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from typing import Any

from stacks.platform import Platform
from stacks.wheelhouse import (
    MANIFEST,
    aws_cli_wheelhouse,
    engine_wheelhouse,
    ensure,
    manifest_sha256,
)
from tests.portable.conftest import BUCKET, PREFIX, REPO, Packaged
from tests.stacks.test_checks import run_cfn_lint

#: What a template deployable without ``cdk bootstrap`` must not mention.
BOOTSTRAP = re.compile(r"cdk-hnb659fds|BootstrapVersion|cdk-bootstrap|hnb659fds", re.IGNORECASE)
#: Local paths: assembly asset directories, the repository, temporary directories.
LOCAL_PATH = re.compile(rf"asset\.[0-9a-f]{{64}}|{re.escape(str(REPO))}|/tmp/|aws:asset:")
CONSTRAINTS = ("AllowedPattern", "AllowedValues", "MinValue", "MaxValue")


def test_the_manifest_lists_every_stack_in_dependency_order(packaged: Packaged) -> None:
    names = [stack["name"] for stack in packaged.manifest["stacks"]]
    assert names == [f"ironside-{role}" for role in Platform.__dataclass_fields__]
    assert [stack["order"] for stack in packaged.manifest["stacks"]] == list(range(1, 9))
    assert set(packaged.templates) == set(names)
    assert packaged.manifest["prefix"] == f"{PREFIX}/0.1.0"
    assert packaged.manifest["bucket"] == BUCKET


def test_no_bootstrap_reference_and_no_local_path(packaged: Packaged) -> None:
    for name, template in packaged.templates.items():
        text = json.dumps(template)
        assert not BOOTSTRAP.search(text), name
        assert not LOCAL_PATH.search(text), name
        assert "Rules" not in template, name
        assert "Fn::ImportValue" not in text, name
        assert all("Export" not in output for output in template.get("Outputs", {}).values())


def _asset_keys(template: dict[str, Any]) -> set[str]:
    """Keys under the assets prefix that a template points at (S3 URLs, ARNs, Code)."""
    text = json.dumps(template)
    return set(re.findall(rf"{re.escape(PREFIX)}/0\.1\.0/assets/[0-9a-f]{{64}}\.\w+", text))


def test_every_asset_is_in_the_bucket_with_the_manifest_checksum(packaged: Packaged) -> None:
    referenced = set().union(*(_asset_keys(t) for t in packaged.templates.values()))
    recorded = {asset["key"]: asset for asset in packaged.manifest["assets"]}
    # The engine wheel, its dependencies' wheelhouse, the RDS CA bundle, the engine host
    # files, the Batch host assets, their AWS CLI wheelhouse, the custom resource.
    assert len(referenced) == 7 and referenced == set(recorded)
    client = packaged.server.client()
    for key, asset in recorded.items():
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == asset["sha256"], key
        assert len(body) == asset["size"]
        assert asset["stacks"] and all(
            key in json.dumps(packaged.templates[name]) for name in asset["stacks"]
        )
    [function] = [
        r
        for r in packaged.templates["ironside-batch"]["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    assert function["Properties"]["Code"]["S3Bucket"] == BUCKET


def test_the_published_templates_are_the_dist_templates(packaged: Packaged) -> None:
    client = packaged.server.client()
    for stack in packaged.manifest["stacks"]:
        body = client.get_object(Bucket=BUCKET, Key=stack["template_key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == stack["template_sha256"]
        assert body == (packaged.dist / stack["template"]).read_bytes()
        assert stack["template_url"].endswith(stack["template_key"])


def test_every_parameter_has_a_description_and_a_constraint(packaged: Packaged) -> None:
    count = 0
    for name, template in packaged.templates.items():
        for parameter_name, parameter in template.get("Parameters", {}).items():
            count += 1
            assert len(parameter.get("Description", "")) >= 20, (name, parameter_name)
            typed = parameter["Type"].startswith("AWS::")  # CloudFormation checks the value
            assert typed or any(key in parameter for key in CONSTRAINTS), (name, parameter_name)
    assert count >= 30


def test_linked_parameters_name_an_earlier_stack_output(packaged: Packaged) -> None:
    seen: set[str] = set()
    links = 0
    for stack in packaged.manifest["stacks"]:
        for parameter in stack["parameters"]:
            source = parameter["from_output"]
            if source is None:
                continue
            links += 1
            assert source["stack"] in seen, (stack["name"], parameter["name"])
            assert source["output"] in packaged.templates[source["stack"]]["Outputs"]
            assert parameter["AllowedPattern"].startswith("^")
        seen.add(stack["name"])
    assert links >= 15  # every cross-stack value travels this way (19 when last counted)


def _resources(packaged: Packaged, stack: str, type_: str) -> list[dict[str, Any]]:
    resources = packaged.templates[f"ironside-{stack}"]["Resources"].values()
    return [r["Properties"] for r in resources if r["Type"] == type_]


def test_operator_knobs_are_parameters_defaulted_from_context(packaged: Packaged) -> None:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    batch = packaged.templates["ironside-batch"]["Parameters"]
    assert batch["SpotMaxVcpus"]["Default"] == context["ironside:spotMaxVcpus"]
    assert batch["BatchInstanceTypes"]["Default"] == ",".join(
        context["ironside:batchInstanceTypes"]
    )
    environments = _resources(packaged, "batch", "AWS::Batch::ComputeEnvironment")
    assert sorted(json.dumps(e["ComputeResources"]["MaxvCpus"]) for e in environments) == [
        '{"Ref": "OnDemandMaxVcpus"}',
        '{"Ref": "SpotMaxVcpus"}',
    ]
    for environment in environments:
        assert environment["ComputeResources"]["InstanceTypes"] == {
            "Fn::Split": [",", {"Ref": "BatchInstanceTypes"}]
        }
    [template] = _resources(packaged, "engine", "AWS::EC2::LaunchTemplate")
    assert template["LaunchTemplateData"]["InstanceType"] == {"Ref": "EngineInstanceType"}
    [cluster] = _resources(packaged, "database", "AWS::RDS::DBCluster")
    assert cluster["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": {"Ref": "DatabaseMinCapacity"},
        "MaxCapacity": {"Ref": "DatabaseMaxCapacity"},
    }
    for stack in ("network", "observability", "database"):
        for group in _resources(packaged, stack, "AWS::Logs::LogGroup"):
            assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_cfn_lint_no_errors_no_warnings(packaged: Packaged) -> None:
    run_cfn_lint(packaged.dist)


def test_the_wheelhouses_ship_with_the_manifest_the_templates_check(packaged: Packaged) -> None:
    """Issue 17.6: the hosts' offline installs work from the distribution bucket too."""
    client = packaged.server.client()
    for stack, variable, house in (
        ("ironside-engine", "IRONSIDE_WHEELHOUSE_SHA256", engine_wheelhouse("x86_64")),
        ("ironside-batch", "IRONSIDE_AWS_CLI_SHA256", aws_cli_wheelhouse()),
    ):
        expected = manifest_sha256(ensure(house))
        text = json.dumps(packaged.templates[stack])
        assert f"{variable}={expected}" in text, stack
        shipped = []
        for key in _asset_keys(packaged.templates[stack]):
            body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            if key.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(body)) as archive:
                    if MANIFEST in archive.namelist():
                        shipped.append(hashlib.sha256(archive.read(MANIFEST)).hexdigest())
        assert expected in shipped, stack
