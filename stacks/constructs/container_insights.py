"""Turns ECS Container Insights on (or off) as the account default, through a custom resource.

AWS Batch creates the ECS clusters of its compute environments itself, so the only
way to get Container Insights on them is the account-wide default setting
``containerInsights``, which applies to clusters created afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from stacks import nag

#: Construct id of the singleton Lambda behind every AwsCustomResource in a stack.
PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"


@dataclass(frozen=True)
class ContainerInsightsProps:
    """Props of :class:`ContainerInsights`.

    Attributes:
        enabled: the value to set (default ``True``); deleting the stack leaves it unchanged.
    """

    enabled: bool = True


class ContainerInsights(Construct):
    """``ecs:PutAccountSettingDefault containerInsights=<enabled|disabled>``."""

    def __init__(self, scope: Construct, construct_id: str, props: ContainerInsightsProps) -> None:
        super().__init__(scope, construct_id)
        value = "enabled" if props.enabled else "disabled"

        def call(setting: str) -> cr.AwsSdkCall:
            return cr.AwsSdkCall(
                service="ECS",
                action="putAccountSettingDefault",
                parameters={"name": "containerInsights", "value": setting},
                physical_resource_id=cr.PhysicalResourceId.of("ecs-container-insights-default"),
            )

        self.resource = cr.AwsCustomResource(
            self,
            "Setting",
            on_create=call(value),
            on_update=call(value),
            # Deleting the stack leaves the account default as it is: other teams' clusters
            # may rely on it.
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        # PutAccountSettingDefault has no resource type: "*" is required.
                        actions=["ecs:PutAccountSettingDefault"],
                        resources=["*"],
                    )
                ]
            ),
            timeout=cdk.Duration.minutes(2),
        )
        nag.acknowledge(
            self.resource,
            "ecs:PutAccountSettingDefault has no resource type, so '*' is the only resource",
            nag.resource("*"),
        )
        provider = cdk.Stack.of(self).node.try_find_child(PROVIDER_ID)
        if provider is not None:
            nag.acknowledge(
                provider,
                "CDK's AwsCustomResource provider Lambda uses AWSLambdaBasicExecutionRole "
                "only to write its own logs",
                nag.managed_policy("service-role/AWSLambdaBasicExecutionRole"),
            )
            _drop_redundant_depends_on(provider)


def _drop_redundant_depends_on(provider: IConstruct) -> None:
    """The provider function already references its role (GetAtt); cfn-lint W3005 flags
    the extra DependsOn CDK adds, so remove it."""
    function = provider.node.try_find_child("Resource")
    if isinstance(function, cdk.CfnResource):
        # Its only DependsOn is the role, which Properties.Role already references.
        function.add_deletion_override("DependsOn")
