"""Post-deployment steps that roll out what CloudFormation alone does not.

* :func:`launch_template_step` moves the Batch compute environments to the launch template
  version CloudFormation created for changed user data or host assets
  (``scripts/update_compute_environments.sh``).
* :func:`engine_step` refreshes the engine's Auto Scaling group when its launch template
  (and so the engine wheel) changed, then waits for ``/engine/v1/status``
  (``scripts/roll_engine_host.sh``).

Both read names from the stage's stack outputs (``env_from_cfn_outputs``), see
:data:`LAUNCH_TEMPLATE_OUTPUTS` and :data:`ENGINE_OUTPUTS`; their IAM is scoped to the
stage's ``namePrefix``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines

from pipeline.settings import StageTarget

#: Environment variable of the launch template step -> id of the stack output it comes from.
LAUNCH_TEMPLATE_OUTPUTS: Mapping[str, str] = {
    "LAUNCH_TEMPLATE_ID": "BatchLaunchTemplateId",
    "LAUNCH_TEMPLATE_VERSION": "BatchLaunchTemplateVersion",
    "COMPUTE_ENVIRONMENT_ARNS": "BatchComputeEnvironmentArns",
}
#: Environment variable of the engine step -> id of the stack output it comes from.
ENGINE_OUTPUTS: Mapping[str, str] = {
    "ENGINE_ASG_NAME": "EngineAutoScalingGroupName",
    "ENGINE_PORT": "EnginePort",
}
LAUNCH_TEMPLATE_STEP = "RollOutLaunchTemplate"
ENGINE_STEP = "RollEngineHost"
LAUNCH_TEMPLATE_SCRIPT = "pipeline/scripts/update_compute_environments.sh"
ENGINE_SCRIPT = "pipeline/scripts/roll_engine_host.sh"


class MissingOutputError(LookupError):
    """The stage does not export an output a rollout step needs."""


def find_outputs(stage: cdk.Stage, names: Mapping[str, str]) -> dict[str, cdk.CfnOutput]:
    """``{variable: CfnOutput}`` for ``{variable: output id}``, searched in every stack."""
    found = {
        child.node.id: child
        for child in stage.node.find_all()
        if isinstance(child, cdk.CfnOutput) and cdk.Stage.of(child) is stage
    }
    missing = sorted(set(names.values()) - set(found))
    if missing:
        raise MissingOutputError(
            f"stage {stage.stage_name!r} exports no CfnOutput with id {', '.join(missing)}; "
            "the pipeline's rollout steps read them (pipeline/rollout.py)"
        )
    return {variable: found[output] for variable, output in names.items()}


def _arn(target: StageTarget, service: str, resource: str, region: bool = True) -> str:
    partition = cdk.Aws.PARTITION
    where = (target.region or cdk.Aws.REGION) if region else ""
    account = target.account or cdk.Aws.ACCOUNT_ID
    return f"arn:{partition}:{service}:{where}:{account}:{resource}"


@dataclass(frozen=True)
class Grant:
    """One IAM statement of a rollout step and why its wildcards (if any) are needed."""

    statement: iam.PolicyStatement
    reason: str


def launch_template_policy(target: StageTarget) -> list[Grant]:
    """Update only the stage's compute environments (named ``<namePrefix>-*``)."""
    prefix = target.settings.name_prefix
    return [
        Grant(
            iam.PolicyStatement(
                actions=["batch:UpdateComputeEnvironment"],
                resources=[_arn(target, "batch", f"compute-environment/{prefix}-*")],
            ),
            f"Only the stage's compute environments, whose names begin '{prefix}-'; the "
            "names are known to the stage, not to the pipeline stack.",
        ),
        Grant(
            iam.PolicyStatement(actions=["batch:DescribeComputeEnvironments"], resources=["*"]),
            "batch:DescribeComputeEnvironments supports no resource-level permissions.",
        ),
    ]


def engine_policy(target: StageTarget) -> list[Grant]:
    """Refresh only the stage's engine group; run commands only on its instances."""
    group = target.settings.engine_asg_name
    region = target.region or cdk.Aws.REGION
    return [
        Grant(
            iam.PolicyStatement(
                actions=["autoscaling:StartInstanceRefresh"],
                resources=[
                    _arn(target, "autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{group}")
                ],
            ),
            f"Only the group named {group}; the wildcard is the group's id, which "
            "Auto Scaling assigns at creation.",
        ),
        Grant(
            iam.PolicyStatement(
                actions=["ssm:SendCommand"],
                resources=[_arn(target, "ec2", "instance/*")],
                conditions={"StringEquals": {"ssm:resourceTag/aws:autoscaling:groupName": group}},
            ),
            f"Instances are replaced by the refresh; the condition limits Run Command to "
            f"instances of the group {group}.",
        ),
        Grant(
            iam.PolicyStatement(
                actions=["ssm:SendCommand"],
                resources=[f"arn:{cdk.Aws.PARTITION}:ssm:{region}::document/AWS-RunShellScript"],
            ),
            "Only the AWS-RunShellScript document (the health probe).",
        ),
        Grant(
            iam.PolicyStatement(
                actions=[
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeInstanceRefreshes",
                    "ssm:GetCommandInvocation",
                ],
                resources=["*"],
            ),
            "These describe and read calls support no resource-level permissions.",
        ),
    ]


@dataclass(frozen=True)
class RolloutStep:
    """A rollout step and the grants its role carries (for the cdk-nag acknowledgements)."""

    step: pipelines.CodeBuildStep
    grants: tuple[Grant, ...]


def _step(
    step_id: str,
    source: pipelines.IFileSetProducer,
    script: str,
    outputs: dict[str, cdk.CfnOutput],
    grants: list[Grant],
    timeout: cdk.Duration,
) -> RolloutStep:
    step = pipelines.CodeBuildStep(
        step_id,
        input=source,
        commands=[f"bash {script}"],
        env_from_cfn_outputs=outputs,
        role_policy_statements=[grant.statement for grant in grants],
        timeout=timeout,
    )
    return RolloutStep(step, tuple(grants))


def launch_template_step(
    stage: cdk.Stage, target: StageTarget, source: pipelines.IFileSetProducer
) -> RolloutStep:
    """Point the compute environments at the new launch template version."""
    outputs = find_outputs(stage, LAUNCH_TEMPLATE_OUTPUTS)
    grants = launch_template_policy(target)
    return _step(
        LAUNCH_TEMPLATE_STEP, source, LAUNCH_TEMPLATE_SCRIPT, outputs, grants, cdk.Duration.hours(1)
    )


def engine_step(
    stage: cdk.Stage, target: StageTarget, source: pipelines.IFileSetProducer
) -> RolloutStep:
    """Refresh the engine host if its launch template changed; wait for its status."""
    outputs = find_outputs(stage, ENGINE_OUTPUTS)
    return _step(
        ENGINE_STEP, source, ENGINE_SCRIPT, outputs, engine_policy(target), cdk.Duration.hours(2)
    )
