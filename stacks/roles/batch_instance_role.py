"""The Batch host (ECS container instance) role."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from launch_template.user_data import AUTOSCALE_TAG
from stacks import nag

#: AWS managed policies the host needs, each with why (also the cdk-nag reason).
MANAGED_POLICY_REASONS = {
    "service-role/AmazonEC2ContainerServiceforEC2Role": (
        "The ECS agent on Batch hosts registers the instance, polls for tasks, pulls images "
        "and ships task logs; AWS keeps this policy in step with the agent"
    ),
    "AmazonSSMManagedInstanceCore": (
        "SSM Session Manager is the only way onto Batch hosts (no SSH, no key pair); AWS "
        "keeps this policy in step with the SSM agent"
    ),
    "CloudWatchAgentServerPolicy": (
        "The CloudWatch agent ships host logs to the hosts log group and publishes memory "
        "and scratch-disk metrics (cloudwatch-agent.json); AWS keeps this policy in step "
        "with the agent"
    ),
}
#: AWS managed policies the host needs: the ECS agent, SSM Session Manager, the CloudWatch agent.
MANAGED_POLICIES = tuple(MANAGED_POLICY_REASONS)


@dataclass(frozen=True)
class BatchInstanceRoleProps:
    """Props of :func:`batch_instance_role`.

    Attributes:
        cache_prefixes: ECR pull-through cache repository prefixes; the first pull of an
            image through a cache creates its repository (default: none).
    """

    cache_prefixes: Sequence[str] = ()


def batch_instance_role(
    scope: Construct, construct_id: str, props: BatchInstanceRoleProps
) -> iam.Role:
    """The role of Batch hosts, without the EBS autoscale statements (see below)."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description="Ironside Batch hosts: ECS agent, SSM, CloudWatch agent, EBS autoscale",
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(name) for name in MANAGED_POLICIES
        ],
    )
    # No access to the platform's buckets: task containers use their job role (the
    # one-hop metadata limit keeps them off this one), and the host reads only its assets.
    if props.cache_prefixes:
        stack = Stack.of(scope)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullThroughCache",
                actions=["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                resources=[
                    stack.format_arn(service="ecr", resource="repository", resource_name=f"{p}/*")
                    for p in props.cache_prefixes
                ],
            )
        )
        nag.acknowledge(
            role,
            "Pull-through caches create one repository per upstream image on first pull; "
            "only repositories under the kit's cache prefixes",
            *(
                nag.resource(nag.regional_arn("ecr", f"repository/{p}/*"))
                for p in props.cache_prefixes
            ),
        )
    for name, reason in MANAGED_POLICY_REASONS.items():
        nag.acknowledge(role, reason, nag.managed_policy(name))
    return role


def acknowledge_ebs_autoscale(policy: Construct) -> None:
    """Acknowledge the wildcards of :func:`ebs_autoscale_statements`, each for its reason."""
    nag.acknowledge(
        policy,
        "ec2:DescribeVolumes and ec2:DescribeInstances support no resource-level permissions",
        nag.resource("*"),
    )
    nag.acknowledge(
        policy,
        "Volume ids are unknown until the daemon creates them; every volume action is "
        "conditioned on the kit's ironside:autoscale tag (aws:RequestTag / aws:ResourceTag)",
        nag.resource(nag.regional_arn("ec2", "volume/*")),
    )
    nag.acknowledge(
        policy,
        "Batch launches the instances; attach/detach/modify are conditioned on "
        "ec2:InstanceProfile being the Batch hosts' own instance profiles",
        nag.resource(nag.regional_arn("ec2", "instance/*")),
    )


def ebs_autoscale_statements(
    scope: Construct, instance_profile_arns: Sequence[str]
) -> list[iam.PolicyStatement]:
    """What the EBS autoscale daemon may do: only to volumes carrying the kit's tag.

    Volumes must be created with ``ironside:autoscale=true`` and can then only be
    attached to, detached from and deleted on that tag; attach/detach and
    ``ModifyInstanceAttribute`` (delete-on-termination) are limited to instances
    running with the Batch hosts' own instance profile.
    """
    key, value = AUTOSCALE_TAG
    stack = Stack.of(scope)
    volumes = stack.format_arn(service="ec2", resource="volume", resource_name="*")
    instances = stack.format_arn(service="ec2", resource="instance", resource_name="*")
    tagged = {"StringEquals": {f"aws:ResourceTag/{key}": value}}
    return [
        iam.PolicyStatement(
            sid="CreateTaggedVolumes",
            actions=["ec2:CreateVolume"],
            resources=[volumes],
            conditions={"StringEquals": {f"aws:RequestTag/{key}": value}},
        ),
        iam.PolicyStatement(
            sid="TagOnCreate",
            actions=["ec2:CreateTags"],
            resources=[volumes],
            conditions={"StringEquals": {"ec2:CreateAction": "CreateVolume"}},
        ),
        iam.PolicyStatement(
            sid="ManageTaggedVolumes",
            actions=["ec2:AttachVolume", "ec2:DetachVolume", "ec2:DeleteVolume"],
            resources=[volumes],
            conditions=tagged,
        ),
        iam.PolicyStatement(
            sid="OwnInstancesOnly",
            actions=["ec2:AttachVolume", "ec2:DetachVolume", "ec2:ModifyInstanceAttribute"],
            resources=[instances],
            conditions={"ArnEquals": {"ec2:InstanceProfile": list(instance_profile_arns)}},
        ),
        iam.PolicyStatement(
            sid="Describe",
            # Describe* calls support no resource-level permissions.
            actions=["ec2:DescribeVolumes", "ec2:DescribeInstances"],
            resources=["*"],
        ),
    ]
