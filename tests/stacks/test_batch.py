"""Batch stack: launch template, compute environments, queues, instance role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from tests.stacks.conftest import Synthesized
from tests.stacks.helpers import actions, flatten, statements


def _environments(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return synth.resources("batch", "AWS::Batch::ComputeEnvironment")


def test_two_compute_environments_spot_and_on_demand(synth: Synthesized) -> None:
    environments = _environments(synth)
    types = sorted(e["Properties"]["ComputeResources"]["Type"] for e in environments.values())
    assert types == ["EC2", "SPOT"]
    for environment in environments.values():
        resources = environment["Properties"]["ComputeResources"]
        assert environment["Properties"]["Type"].upper() == "MANAGED"
        assert resources["InstanceTypes"] == list(synth.settings.batch_instance_types)
        assert resources["Ec2Configuration"] == [{"ImageType": "ECS_AL2023"}]
        assert "LaunchTemplate" in resources
    [spot] = [
        e for e in environments.values() if e["Properties"]["ComputeResources"]["Type"] == "SPOT"
    ]
    assert (
        spot["Properties"]["ComputeResources"]["AllocationStrategy"]
        == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    )
    assert spot["Properties"]["ComputeResources"]["BidPercentage"] == 100
    assert spot["Properties"]["ComputeResources"]["MaxvCpus"] == synth.settings.spot_max_vcpus


def _logical_id(reference: dict[str, Any]) -> str:
    if "Ref" in reference:
        return str(reference["Ref"])
    return str(reference["Fn::GetAtt"][0])


def test_queue_order(synth: Synthesized) -> None:
    environments = _environments(synth)
    spot = next(
        k for k, e in environments.items() if e["Properties"]["ComputeResources"]["Type"] == "SPOT"
    )
    on_demand = next(k for k in environments if k != spot)
    queues = {
        q["Properties"]["JobQueueName"]: q
        for q in synth.resources("batch", "AWS::Batch::JobQueue").values()
    }
    assert set(queues) == {"ironside-default", "ironside-priority"}

    def order(name: str) -> list[tuple[int, str]]:
        return [
            (entry["Order"], _logical_id(entry["ComputeEnvironment"]))
            for entry in queues[name]["Properties"]["ComputeEnvironmentOrder"]
        ]

    assert order("ironside-default") == [(1, spot), (2, on_demand)]
    assert order("ironside-priority") == [(1, on_demand)]
    assert (
        queues["ironside-priority"]["Properties"]["Priority"]
        > queues["ironside-default"]["Properties"]["Priority"]
    )


def _launch_template(synth: Synthesized) -> dict[str, Any]:
    [template] = synth.resources("batch", "AWS::EC2::LaunchTemplate").values()
    data: dict[str, Any] = template["Properties"]["LaunchTemplateData"]
    return data


def test_launch_template_imdsv2_and_encrypted_gp3(synth: Synthesized) -> None:
    data = _launch_template(synth)
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    [root] = data["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True
    assert root["Ebs"]["VolumeType"] == "gp3"
    assert root["Ebs"]["VolumeSize"] == synth.settings.batch_root_volume_gib
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"


def test_launch_template_carries_the_mime_user_data(synth: Synthesized) -> None:
    user_data = _launch_template(synth)["UserData"]
    assert "Fn::Base64" in user_data
    text = flatten(user_data)
    assert 'Content-Type: multipart/mixed; boundary="==IRONSIDE-USER-DATA-BOUNDARY=="' in text
    assert "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true" in text
    assert "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached" in text
    assert "IRONSIDE_AWS_CLI_URL=" in text and "IRONSIDE_AWS_CLI_SHA256=" in text
    assert "/ironside/batch/hosts" in text
    assert '"mountpoint": "/cromwell_root"' in text


def test_instance_role_managed_policies(synth: Synthesized) -> None:
    [role] = [
        r
        for k, r in synth.resources("batch", "AWS::IAM::Role").items()
        if k.startswith("InstanceRole")
    ]
    names = [flatten(arn).rsplit("/", 1)[-1] for arn in role["Properties"]["ManagedPolicyArns"]]
    assert names == [
        "AmazonEC2ContainerServiceforEC2Role",
        "AmazonSSMManagedInstanceCore",
        "CloudWatchAgentServerPolicy",
    ]


def test_ebs_autoscale_limited_to_tagged_volumes(synth: Synthesized) -> None:
    policies = synth.resources("batch", "AWS::IAM::Policy")
    by_sid = {s["Sid"]: s for s in statements(policies) if "Sid" in s}
    create = by_sid["CreateTaggedVolumes"]
    assert actions(create) == ["ec2:CreateVolume"]
    assert create["Condition"] == {"StringEquals": {"aws:RequestTag/ironside:autoscale": "true"}}
    manage = by_sid["ManageTaggedVolumes"]
    assert set(actions(manage)) == {"ec2:AttachVolume", "ec2:DetachVolume", "ec2:DeleteVolume"}
    assert manage["Condition"] == {"StringEquals": {"aws:ResourceTag/ironside:autoscale": "true"}}
    own = by_sid["OwnInstancesOnly"]
    assert len(own["Condition"]["ArnEquals"]["ec2:InstanceProfile"]) == 2
    assert by_sid["TagOnCreate"]["Condition"] == {
        "StringEquals": {"ec2:CreateAction": "CreateVolume"}
    }


def test_instance_role_reads_only_its_host_assets(synth: Synthesized) -> None:
    """Tasks run as their job role; the host role has no access to the platform's buckets."""
    policies = synth.resources("batch", "AWS::IAM::Policy")
    by_sid = {s["Sid"]: s for s in statements(policies) if "Sid" in s}
    assert not {"ResultsObjects", "ScriptsObjects", "ResultsBuckets"} & set(by_sid)
    for statement in statements(policies):
        assert "-results-" not in flatten(statement["Resource"])
    assets = flatten(by_sid["ReadHostAssets"]["Resource"])
    assert assets.endswith(".zip") and "*" not in assets


def test_instance_role_may_fill_the_pull_through_caches(synth: Synthesized) -> None:
    policies = synth.resources("batch", "AWS::IAM::Policy")
    by_sid = {s["Sid"]: s for s in statements(policies) if "Sid" in s}
    cache = by_sid["PullThroughCache"]
    assert set(actions(cache)) == {"ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}
    resources = sorted(flatten(r) for r in cache["Resource"])
    assert [r.rsplit(":", 1)[-1] for r in resources] == [
        "repository/ironside-ecr-public/*",
        "repository/ironside-quay/*",
    ]


def test_environments_pin_the_latest_launch_template_version(synth: Synthesized) -> None:
    """A new user data version reaches the environments through CloudFormation."""
    templates = synth.resources("batch", "AWS::EC2::LaunchTemplate")
    for environment in _environments(synth).values():
        reference = environment["Properties"]["ComputeResources"]["LaunchTemplate"]
        [template_id] = templates
        assert reference["LaunchTemplateId"] == {"Ref": template_id}
        assert reference["Version"] == {"Fn::GetAtt": [template_id, "LatestVersionNumber"]}


def test_outputs_the_rollout_reads(synth: Synthesized) -> None:
    outputs = synth.templates[synth.settings.name("batch")]["Outputs"]
    [template_id] = synth.resources("batch", "AWS::EC2::LaunchTemplate")
    assert outputs["BatchLaunchTemplateId"]["Value"] == {"Ref": template_id}
    assert outputs["BatchLaunchTemplateVersion"]["Value"] == {
        "Fn::GetAtt": [template_id, "LatestVersionNumber"]
    }
    separator, arns = outputs["BatchComputeEnvironmentArns"]["Value"]["Fn::Join"]
    spot, on_demand = sorted(
        _environments(synth),
        key=lambda k: _environments(synth)[k]["Properties"]["ComputeResources"]["Type"] != "SPOT",
    )
    assert separator == "," and [_logical_id(a) for a in arns] == [spot, on_demand]


def test_queues_fail_jobs_that_cannot_be_placed(synth: Synthesized) -> None:
    """Item 17.10: after jobRunnableTimeoutMinutes (default 4 h) RUNNABLE for a reason Batch
    names, the job is cancelled with it instead of waiting forever."""
    queues = synth.resources("batch", "AWS::Batch::JobQueue").values()
    assert len(queues) == 2  # no GPU queue by default
    for queue in queues:
        actions_ = queue["Properties"]["JobStateTimeLimitActions"]
        assert {a["Reason"] for a in actions_} == {
            "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
            "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
            "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        }
        for action in actions_:
            assert (action["Action"], action["State"], action["MaxTimeSeconds"]) == (
                "CANCEL",
                "RUNNABLE",
                4 * 3600,
            )


def test_gpu_environment_queue_and_routing(tmp_path: Path) -> None:
    """gpuInstanceTypes: a GPU environment on the ECS GPU AMI, its queue, the engine
    allowed to submit there and told to send gpuCount > 0 tasks to it."""
    from tests.stacks.synth import build

    app, platform = build(
        str(tmp_path),
        {
            "ironside:gpuInstanceTypes": "g5,g6.xlarge",
            "ironside:gpuMaxVcpus": "32",
            "ironside:jobRunnableTimeoutMinutes": "90",
        },
    )
    batch_t = Template.from_stack(platform.batch).to_json()["Resources"]
    environments = [r for r in batch_t.values() if r["Type"] == "AWS::Batch::ComputeEnvironment"]
    [gpu] = [
        e
        for e in environments
        if e["Properties"]["ComputeResources"]["Ec2Configuration"][0]["ImageType"]
        == "ECS_AL2023_NVIDIA"
    ]
    resources = gpu["Properties"]["ComputeResources"]
    assert resources["InstanceTypes"] == ["g5", "g6.xlarge"]
    assert (resources["Type"], resources["MaxvCpus"]) == ("EC2", 32)
    [queue] = [
        r
        for r in batch_t.values()
        if r["Type"] == "AWS::Batch::JobQueue" and r["Properties"]["JobQueueName"] == "ironside-gpu"
    ]
    assert queue["Properties"]["JobStateTimeLimitActions"][0]["MaxTimeSeconds"] == 90 * 60
    iam_t = Template.from_stack(platform.iam).to_json()["Resources"]
    [submit] = [
        s
        for r in iam_t.values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "SubmitToPlatformQueues"
    ]
    assert "GpuQueue" in json.dumps(submit["Resource"])
    engine_t = Template.from_stack(platform.engine).to_json()["Resources"]
    [template] = [r for r in engine_t.values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
    user_data = json.dumps(template["Properties"]["LaunchTemplateData"]["UserData"])
    assert "gpuQueueArn = " in user_data and "GpuQueue" in user_data


def test_graviton_engine_gets_the_arm64_ami(tmp_path: Path) -> None:
    """Item 17.9: the engine host's AMI follows its instance type's architecture."""
    from stacks.wheelhouse import engine_wheelhouse, ensure, manifest_sha256
    from tests.stacks.synth import build

    _, platform = build(
        str(tmp_path),
        {"ironside:engineInstanceType": "t4g.medium", "ironside:batchInstanceTypes": "m7g,c7g"},
    )
    engine = Template.from_stack(platform.engine).to_json()
    parameters = json.dumps(engine.get("Parameters", {}))
    assert "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64" in parameters
    assert "x86_64" not in parameters
    # ... and so do the engine's dependency wheels (issue 17.6).
    house = ensure(engine_wheelhouse("aarch64"))
    assert f"IRONSIDE_WHEELHOUSE_SHA256={manifest_sha256(house)}" in json.dumps(engine)
    assert any("aarch64" in p.name for p in house.glob("*.whl"))
