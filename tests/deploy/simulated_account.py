"""A simulated AWS account (a moto server on 127.0.0.1) the portable templates deploy into.

What an operator does, in order: package the kit (``python -m stacks.portable``) into a
distribution bucket, create the prerequisites the README names (the Docker Hub secret,
the service-linked role Batch uses), create every stack of the manifest in its order
with ``from_output`` parameters taken from earlier stacks' outputs, then read the engine
host's user data as EC2 hands it to the instance the Auto Scaling group launched.

moto is not AWS. Where its CloudFormation lacks a resource type, the type is recorded
(:attr:`Deployment.unsupported`) and moto skips it; nothing stands in for it, except
that a Secrets Manager secret (needed by reference) is created through the Secrets
Manager API under the template's name, as CloudFormation would. Where moto rejects a
template AWS accepts, the rehearsal's copy is adapted and the adaptation recorded
(:data:`ADAPTATIONS`); the packaged templates themselves are never changed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.cloudformation.parsing import NULL_MODELS, get_model_map

from tests.e2e.batch_harness import aws_env, client

REPO = Path(__file__).resolve().parents[2]
DIST_BUCKET = "rehearsal-dist"
DIST_PREFIX = "acme/ironside"
#: The users' bucket holding workflow inputs (``readBuckets`` at packaging).
INPUTS_BUCKET = "rehearsal-inputs"
#: Operator choices at packaging, each with why the rehearsal makes it.
PACKAGING_CONTEXT = {
    # Container Insights is set by Lambda-backed custom resources, which moto runs only
    # with Docker (none here).
    "ironside:containerInsights": "false",
    # moto's AWS::KMS::Key from CloudFormation fails on CloudFormation-style Tags.
    "ironside:bucketEncryption": "s3",
    # Users' data: the workflow's input lives in a bucket of its own.
    "ironside:readBuckets": INPUTS_BUCKET,
}
#: moto quirks the rehearsal's template copies are adapted for (AWS accepts the originals).
ADAPTATIONS = (
    "AWS::Batch::ComputeEnvironment: moto requires ServiceRole (AWS defaults to the "
    "AWSServiceRoleForBatch service-linked role, which the rehearsal creates and names)",
    "AWS::Batch::ComputeEnvironment: moto accepts Type only in upper case (MANAGED)",
    "Fn::GetAtt ComputeEnvironmentArn / JobQueueArn: moto has no such attributes; Ref "
    "(which returns the same ARN in AWS) is used",
    "AWS::RDS::DBInstance: moto crashes creating an aurora-mysql instance from "
    "CloudFormation; the rehearsal leaves it out (the cluster is unsupported anyway)",
)
_GETATT_ARN = re.compile(
    r'\{"Fn::GetAtt": \["([A-Za-z0-9]+)", "(?:ComputeEnvironmentArn|JobQueueArn)"\]\}'
)


@dataclass
class Deployment:
    """The deployed platform: stack outputs, types moto skipped, the engine host's files."""

    endpoint: str
    manifest: dict[str, Any]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    unsupported: dict[str, set[str]] = field(default_factory=dict)
    host_env: dict[str, str] = field(default_factory=dict)
    engine_config: str = ""

    def output(self, name: str) -> str:
        """The output ``name`` of whichever stack has it."""
        for values in self.outputs.values():
            if name in values:
                return values[name]
        raise KeyError(name)


def operator_env(endpoint: str) -> dict[str, str]:
    """The operator's shell: credentials of the account, the AWS endpoint on loopback."""
    env = {**os.environ, **aws_env(endpoint)}
    env.pop("AWS_PROFILE", None)
    return env


def package(endpoint: str, dist: Path) -> dict[str, Any]:
    """``make package``'s command against the simulated account; the manifest."""
    client("s3", endpoint).create_bucket(Bucket=DIST_BUCKET)
    context = [arg for key, value in PACKAGING_CONTEXT.items() for arg in ("-c", f"{key}={value}")]
    command = [sys.executable, "-m", "stacks.portable", "--bucket", DIST_BUCKET]
    result = subprocess.run(
        [*command, "--prefix", DIST_PREFIX, "--dist", str(dist), *context],
        cwd=REPO,
        env=operator_env(endpoint),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    manifest: dict[str, Any] = json.loads((dist / "manifest.json").read_text())
    return manifest


def deploy(endpoint: str, manifest: dict[str, Any]) -> Deployment:
    """Prerequisites, then every stack in the manifest's order; the engine host's files."""
    iam = client("iam", endpoint)
    service_role = iam.create_service_linked_role(AWSServiceName="batch.amazonaws.com")
    docker_hub = client("secretsmanager", endpoint).create_secret(
        Name="ecr-pullthroughcache/docker-hub",
        SecretString=json.dumps({"username": "rehearsal", "accessToken": "not-a-token"}),
    )
    given = {"DockerHubSecretArn": docker_hub["ARN"]}
    deployment = Deployment(endpoint, manifest)
    cloudformation = client("cloudformation", endpoint)
    for stack in sorted(manifest["stacks"], key=lambda s: s["order"]):
        template = _template(endpoint, stack["template_key"])
        body = _adapted(endpoint, template, service_role["Role"]["Arn"])
        deployment.unsupported[stack["name"]] = _unsupported(template)
        parameters = []
        for parameter in stack["parameters"]:
            source = parameter.get("from_output")
            if parameter["name"] in given:
                value = given[parameter["name"]]
            elif source:
                value = deployment.outputs[source["stack"]][source["output"]]
            else:
                continue  # the kit's default
            parameters.append({"ParameterKey": parameter["name"], "ParameterValue": value})
        cloudformation.create_stack(
            StackName=stack["name"],
            TemplateBody=body,
            Parameters=parameters,
            Capabilities=["CAPABILITY_IAM"],
        )
        [described] = cloudformation.describe_stacks(StackName=stack["name"])["Stacks"]
        assert described["StackStatus"] == "CREATE_COMPLETE", described
        deployment.outputs[stack["name"]] = {
            o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])
        }
    deployment.host_env, deployment.engine_config = engine_host_files(endpoint)
    return deployment


def engine_host_files(endpoint: str) -> tuple[dict[str, str], str]:
    """``/etc/ironside/host.env`` and ``ironside.conf`` as the engine instance's user data
    writes them (its quoted heredocs are literal text, so no shell is needed)."""
    ec2 = client("ec2", endpoint)
    [group] = client("autoscaling", endpoint).describe_auto_scaling_groups(
        AutoScalingGroupNames=["ironside-engine"]
    )["AutoScalingGroups"]
    [instance] = group["Instances"]
    encoded = ec2.describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )["UserData"]["Value"]
    user_data = base64.b64decode(encoded).decode()
    env_text = _heredoc(user_data, "/etc/ironside/host.env", "IRONSIDE_ENV")
    env = dict(line.split("=", 1) for line in env_text.splitlines() if "=" in line)
    return env, _heredoc(user_data, "/etc/ironside/ironside.conf", "IRONSIDE_CONF")


def _heredoc(script: str, path: str, delimiter: str) -> str:
    match = re.search(
        rf"cat >{re.escape(path)} <<'{delimiter}'\n(.*?)^{delimiter}$", script, re.S | re.M
    )
    assert match, f"the user data writes no {path}"
    return match.group(1)


def _template(endpoint: str, key: str) -> dict[str, Any]:
    body = client("s3", endpoint).get_object(Bucket=DIST_BUCKET, Key=key)["Body"].read()
    template: dict[str, Any] = json.loads(body)
    return template


def _unsupported(template: dict[str, Any]) -> set[str]:
    supported = set(get_model_map()) | set(NULL_MODELS)
    return {r["Type"] for r in template["Resources"].values() if r["Type"] not in supported}


def _adapted(endpoint: str, template: dict[str, Any], service_role: str) -> str:
    """The rehearsal's copy: :data:`ADAPTATIONS`, and secrets created by their API."""
    body = json.loads(json.dumps(template))
    resources = body["Resources"]
    arns: dict[str, str] = {}
    secrets = client("secretsmanager", endpoint)
    for logical_id, resource in list(resources.items()):
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Batch::ComputeEnvironment":
            properties["ServiceRole"] = service_role
            properties["Type"] = properties["Type"].upper()
        elif kind == "AWS::RDS::DBInstance":
            del resources[logical_id]
        elif kind == "AWS::SecretsManager::Secret":
            name = properties.get("Name")
            secret = secrets.create_secret(
                Name=name if isinstance(name, str) else logical_id, SecretString="{}"
            )
            arns[logical_id] = secret["ARN"]
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::SecretsManager::SecretTargetAttachment":
            # Its Ref is the attached secret's ARN.
            arns[logical_id] = arns[resource["Properties"]["SecretId"]["Ref"]]
    text = _GETATT_ARN.sub(r'{"Ref": "\1"}', json.dumps(body))
    for logical_id, arn in arns.items():
        text = text.replace(json.dumps({"Ref": logical_id}), json.dumps(arn))
    return text
