"""Name prefix, Docker Hub secret and allowed job roles: parameters in every place they reach."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.constructs.engine_host import CONFIG_PATH
from tests.portable.conftest import Packaged

ROLE_A = "arn:aws:iam::123456789012:role/team-a"
ROLE_B = "arn:aws:iam::123456789012:role/team-b"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/dh-AbCdEf"


def evaluate(node: Any, values: dict[str, Any], conditions: dict[str, Any]) -> Any:
    """The value of a template expression for parameter ``values`` (GetAtt gives a name)."""
    if isinstance(node, list):
        return [evaluate(item, values, conditions) for item in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        return values.get(node["Ref"], f"<{node['Ref']}>")
    if "Fn::GetAtt" in node:
        return "<{}.{}>".format(*node["Fn::GetAtt"])
    if "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return separator.join(evaluate(parts, values, conditions))
    if "Fn::Split" in node:
        separator, text = node["Fn::Split"]
        return evaluate(text, values, conditions).split(separator)
    if "Fn::If" in node:
        name, yes, no = node["Fn::If"]
        return evaluate(
            yes if evaluate(conditions[name], values, conditions) else no, values, conditions
        )
    if "Fn::Not" in node:
        return not evaluate(node["Fn::Not"][0], values, conditions)
    if "Fn::Equals" in node:
        left, right = evaluate(node["Fn::Equals"], values, conditions)
        return left == right
    if "Fn::Base64" in node:
        return evaluate(node["Fn::Base64"], values, conditions)
    return {key: evaluate(value, values, conditions) for key, value in node.items()}


def _resources(template: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == type_]


def test_no_sentinel_is_left(packaged: Packaged) -> None:
    for name, template in packaged.templates.items():
        assert "pkgsentinel" not in json.dumps(template), name
        assert "000000000000" not in json.dumps(template), name


def test_the_name_prefix_is_a_parameter_of_every_stack_that_names_things(
    packaged: Packaged,
) -> None:
    for name, template in packaged.templates.items():
        if name != "ironside-network":
            assert template["Parameters"]["NamePrefix"]["Default"] == "ironside", name
    [queue, _] = _resources(packaged.templates["ironside-batch"], "AWS::Batch::JobQueue")
    assert evaluate(queue["Properties"]["JobQueueName"], {"NamePrefix": "gx"}, {}) == "gx-default"
    [group] = _resources(
        packaged.templates["ironside-engine"], "AWS::AutoScaling::AutoScalingGroup"
    )
    assert evaluate(group["Properties"]["AutoScalingGroupName"], {"NamePrefix": "gx"}, {}) == (
        "gx-engine"
    )


def _engine_config(packaged: Packaged, values: dict[str, Any]) -> str:
    template = packaged.templates["ironside-engine"]
    [launch] = _resources(template, "AWS::EC2::LaunchTemplate")
    user_data = evaluate(
        launch["Properties"]["LaunchTemplateData"]["UserData"], values, template["Conditions"]
    )
    start = user_data.index(f"cat >{CONFIG_PATH} <<'IRONSIDE_CONF'\n")
    body = user_data[start:].split("\n", 1)[1]
    return str(body[: body.index("IRONSIDE_CONF\n")])


@pytest.mark.parametrize(
    "allowed, expected",
    [("", ["<IamJobRoleArn>"]), (f"{ROLE_A},{ROLE_B}", ["<IamJobRoleArn>", ROLE_A, ROLE_B])],
    ids=["none", "two"],
)
def test_allowed_job_roles_reach_the_engine_and_pass_role(
    packaged: Packaged, allowed: str, expected: list[str]
) -> None:
    pyhocon = pytest.importorskip("pyhocon")
    values = {"AllowedJobRoleArns": allowed, "NamePrefix": "gx", "IamJobRoleArn": "<IamJobRoleArn>"}
    config = pyhocon.ConfigFactory.parse_string(_engine_config(packaged, values), resolve=False)
    backend = config.get("backend.providers.AWSBatch.config")
    assert list(backend.get("allowed-job-role-arns")) == expected
    assert backend.get("default-runtime-attributes.scriptBucketName").startswith("gx-scripts-")
    iam = packaged.templates["ironside-iam"]
    [statement] = [
        s
        for p in _resources(iam, "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "PassJobRoles"
    ]
    resources = evaluate(statement["Resource"], {"AllowedJobRoleArns": allowed}, iam["Conditions"])
    assert resources == ["<JobRole014917C6.Arn>", *expected[1:]]


def test_the_docker_hub_secret_is_required_and_reaches_ecr_and_the_hosts(
    packaged: Packaged,
) -> None:
    registry = packaged.templates["ironside-registry"]
    assert "Default" not in registry["Parameters"]["DockerHubSecretArn"]
    assert _resources(registry, "AWS::SecretsManager::Secret") == []
    rules = _resources(registry, "AWS::ECR::PullThroughCacheRule")
    assert [
        r["Properties"].get("CredentialArn") for r in rules if "CredentialArn" in r["Properties"]
    ] == [{"Ref": "DockerHubSecretArn"}]
    batch = packaged.templates["ironside-batch"]
    [launch] = _resources(batch, "AWS::EC2::LaunchTemplate")
    user_data = evaluate(
        launch["Properties"]["LaunchTemplateData"]["UserData"], {"DockerHubSecretArn": SECRET}, {}
    )
    assert f"IRONSIDE_DOCKER_HUB_SECRET_ARN={SECRET}\n" in user_data
    statements = [
        s
        for p in _resources(batch, "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ReadDockerHubCredentials"
    ]
    assert [s["Resource"] for s in statements] == [{"Ref": "DockerHubSecretArn"}]
