"""Operator knobs as CloudFormation Parameters on the built stacks (packaged mode only).

:func:`add_knob_parameters` runs after :func:`stacks.platform.add_platform`: for each knob
it adds a ``CfnParameter`` to the stack that uses it, defaulted from the settings (so
from CDK context), and overrides the final resource property with a reference to it.
The stacks' own code never sees a token, so every synth-time check still runs on the
context values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import IConstruct

from stacks.platform import Platform
from stacks.settings import LOG_RETENTION_DAYS, Settings

_INSTANCE = r"[a-z][a-z0-9-]*(\.[a-z0-9]+)?"
L1 = TypeVar("L1", bound=cdk.CfnResource)


@dataclass(frozen=True)
class Knob:
    """One deploy-time parameter: its name, type, default, description and constraint."""

    name: str
    type: str
    default: Any
    description: str
    constraint: dict[str, Any] = field(default_factory=dict)

    def add_to(self, stack: cdk.Stack) -> cdk.CfnParameter:
        """The parameter in ``stack`` (one per stack and name)."""
        found = stack.node.try_find_child(self.name)
        if isinstance(found, cdk.CfnParameter):
            return found
        return cdk.CfnParameter(
            stack,
            self.name,
            type=self.type,
            default=self.default,
            description=self.description,
            **self.constraint,
        )


def knobs(settings: Settings) -> dict[str, Knob]:
    """Every knob, by parameter name, defaulted from ``settings``."""

    def vcpus(name: str, default: int, which: str) -> Knob:
        return Knob(
            name, "Number", default, f"Maximum vCPUs of the {which} compute environment",
            {"min_value": 1, "max_value": 100_000},
        )  # fmt: skip

    return {
        k.name: k
        for k in (
            vcpus("SpotMaxVcpus", settings.spot_max_vcpus, "Spot"),
            vcpus("OnDemandMaxVcpus", settings.on_demand_max_vcpus, "On-Demand"),
            Knob(
                "BatchInstanceTypes",
                "String",
                ",".join(settings.batch_instance_types),
                "Instance families or types of both Batch compute environments, comma-separated "
                "(e.g. m6i,c6i,r6i or m6i.2xlarge)",
                {"allowed_pattern": f"^{_INSTANCE}(,{_INSTANCE})*$", "max_length": 1024},
            ),
            Knob(
                "EngineInstanceType",
                "String",
                settings.engine_instance_type,
                "x86_64 instance type of the engine host (e.g. t3.medium, m6i.large)",
                {"allowed_pattern": r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", "max_length": 32},
            ),
            Knob(
                "LogRetentionDays",
                "Number",
                str(settings.log_retention_days),  # compared with AllowedValues as text
                "Retention of the stack's CloudWatch log groups, in days",
                {"allowed_values": [str(days) for days in LOG_RETENTION_DAYS]},
            ),
            Knob(
                "DatabaseMinCapacity",
                "Number",
                settings.database_min_capacity,
                "Aurora Serverless v2 minimum capacity (ACUs, steps of 0.5; at most the maximum)",
                {"min_value": 0, "max_value": 256},
            ),
            Knob(
                "DatabaseMaxCapacity",
                "Number",
                settings.database_max_capacity,
                "Aurora Serverless v2 maximum capacity (ACUs, steps of 0.5)",
                {"min_value": 1, "max_value": 256},
            ),
        )
    }


def _l1s(scope: IConstruct, kind: type[L1]) -> Iterator[L1]:
    """Every L1 resource of ``kind`` under ``scope``."""
    for child in scope.node.find_all():
        if isinstance(child, kind):
            yield child


def _override(stack: cdk.Stack, knob: Knob, resources: Sequence[cdk.CfnResource], path: str,
              list_value: bool = False) -> None:  # fmt: skip
    """Point ``path`` of each resource at ``knob``'s parameter in ``stack``."""
    if not resources:
        return
    parameter = knob.add_to(stack)
    value: Any = parameter.value_as_string
    if list_value:
        value = cdk.Fn.split(",", parameter.value_as_string)
    elif knob.type == "Number":
        value = parameter.value_as_number
    for resource in resources:
        resource.add_property_override(path, value)


def add_knob_parameters(platform: Platform, settings: Settings) -> None:
    """Add the knob parameters to the platform's stacks and wire them to their resources."""
    k = knobs(settings)
    compute = platform.batch.compute
    environments = {
        "SpotMaxVcpus": compute.spot,
        "OnDemandMaxVcpus": compute.on_demand,
    }
    for name, environment in environments.items():
        cfn = list(_l1s(environment, batch.CfnComputeEnvironment))
        _override(platform.batch, k[name], cfn, "ComputeResources.MaxvCpus")
    every_environment = list(_l1s(compute, batch.CfnComputeEnvironment))
    _override(
        platform.batch, k["BatchInstanceTypes"], every_environment,
        "ComputeResources.InstanceTypes", list_value=True,
    )  # fmt: skip
    engine_templates = list(_l1s(platform.engine.host, ec2.CfnLaunchTemplate))
    _override(
        platform.engine, k["EngineInstanceType"], engine_templates,
        "LaunchTemplateData.InstanceType",
    )  # fmt: skip
    clusters = list(_l1s(platform.database, rds.CfnDBCluster))
    for name, attribute in (("DatabaseMinCapacity", "Min"), ("DatabaseMaxCapacity", "Max")):
        path = f"ServerlessV2ScalingConfiguration.{attribute}Capacity"
        _override(platform.database, k[name], clusters, path)
    for stack in platform.stacks:
        groups = [g for g in _l1s(stack, logs.CfnLogGroup) if g.retention_in_days is not None]
        _override(stack, k["LogRetentionDays"], groups, "RetentionInDays")
