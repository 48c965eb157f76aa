"""Turns ECS Container Insights on for the ECS clusters of the kit's own Batch compute
environments, through custom resources (never the account-wide default).

AWS Batch creates each compute environment's ECS cluster itself and CloudFormation does
not expose it: one custom resource reads the cluster's ARN (``DescribeComputeEnvironments``),
a second one sets ``containerInsights`` on that cluster only (``UpdateClusterSettings``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from stacks import checkov, nag

#: Construct id of the singleton Lambda behind every AwsCustomResource in a stack.
PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"
#: Batch names its clusters ``<compute environment name>_Batch_<uuid>``.
BATCH_CLUSTERS = "cluster/*_Batch_*"


@dataclass(frozen=True)
class ContainerInsightsProps:
    """Props of :class:`ContainerInsights`.

    Attributes:
        compute_environment_arns: the environments whose clusters get the setting.
        enabled: the value to set (default ``True``); deleting the stack leaves it unchanged
            (the clusters go with their environments).
    """

    compute_environment_arns: Sequence[str]
    enabled: bool = True


class ContainerInsights(Construct):
    """``ecs:UpdateClusterSettings containerInsights=<enabled|disabled>`` per cluster."""

    def __init__(self, scope: Construct, construct_id: str, props: ContainerInsightsProps) -> None:
        super().__init__(scope, construct_id)
        value = "enabled" if props.enabled else "disabled"
        stack = cdk.Stack.of(self)
        clusters = stack.format_arn(service="ecs", resource=BATCH_CLUSTERS.split("/", 1)[0],
                                    resource_name=BATCH_CLUSTERS.split("/", 1)[1])  # fmt: skip
        self.resources: list[cr.AwsCustomResource] = []
        for index, environment_arn in enumerate(props.compute_environment_arns):
            describe = cr.AwsSdkCall(
                service="Batch",
                action="describeComputeEnvironments",
                parameters={"computeEnvironments": [environment_arn]},
                physical_resource_id=cr.PhysicalResourceId.of(f"ecs-cluster-of-{index}"),
                output_paths=["computeEnvironments.0.ecsClusterArn"],
            )
            # DescribeComputeEnvironments has no resource type.
            cluster = self._call(
                f"Cluster{index}", describe, "batch:DescribeComputeEnvironments", "*"
            )
            cluster_arn = cluster.get_response_field("computeEnvironments.0.ecsClusterArn")
            update = cr.AwsSdkCall(
                service="ECS",
                action="updateClusterSettings",
                parameters={
                    "cluster": cluster_arn,
                    "settings": [{"name": "containerInsights", "value": value}],
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"container-insights-{index}"),
            )
            setting = self._call(f"Setting{index}", update, "ecs:UpdateClusterSettings", clusters)
            self.resources += [cluster, setting]
        nag.acknowledge(
            self,
            "batch:DescribeComputeEnvironments has no resource type ('*' is the only "
            "resource); ecs:UpdateClusterSettings is limited to Batch-managed clusters, "
            "whose names Batch assigns (<environment>_Batch_<uuid>)",
            nag.resource("*"),
            nag.resource(nag.regional_arn("ecs", BATCH_CLUSTERS)),
        )
        provider = stack.node.try_find_child(PROVIDER_ID)
        if provider is not None:
            nag.acknowledge(
                provider,
                "CDK's AwsCustomResource provider Lambda uses AWSLambdaBasicExecutionRole "
                "only to write its own logs",
                nag.managed_policy("service-role/AWSLambdaBasicExecutionRole"),
            )
            _drop_redundant_depends_on(provider)
            function = provider.node.try_find_child("Resource")
            if isinstance(function, cdk.CfnResource):
                checkov.skip(
                    function,
                    "CDK's custom-resource provider: CloudFormation invokes it only during "
                    "deployments and waits for its answer (a failure fails the deployment, so "
                    "a dead-letter queue would hold nothing to act on, and a concurrency limit "
                    "nothing to bound); it calls only the Batch and ECS APIs and touches no "
                    "data in the VPC",
                    "CKV_AWS_115",
                    "CKV_AWS_116",
                    "CKV_AWS_117",
                )

    def _call(
        self, construct_id: str, call: cr.AwsSdkCall, action: str, resource: str
    ) -> cr.AwsCustomResource:
        """One SDK call on create and update, allowed ``action`` on ``resource`` only."""
        return cr.AwsCustomResource(
            self,
            construct_id,
            on_create=call,
            on_update=call,
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=[action], resources=[resource])]
            ),
            timeout=cdk.Duration.minutes(2),
        )


def _drop_redundant_depends_on(provider: IConstruct) -> None:
    """The provider function already references its role (GetAtt); cfn-lint W3005 flags
    the extra DependsOn CDK adds, so remove it."""
    function = provider.node.try_find_child("Resource")
    if isinstance(function, cdk.CfnResource):
        # Its only DependsOn is the role, which Properties.Role already references.
        function.add_deletion_override("DependsOn")
