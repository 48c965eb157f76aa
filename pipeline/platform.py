"""The kit's stages for the pipeline: ``PlatformStage`` plus the outputs the rollouts read.

:func:`platform_stage` is the :data:`pipeline.stack.StageFactory` ``app.py`` hands to
:class:`pipeline.stack.PipelineStack`. It builds the kit's ``PlatformStage`` with the
stage's settings and environment, then makes sure the stacks export what the rollout
steps read (:data:`pipeline.rollout.LAUNCH_TEMPLATE_OUTPUTS` and
:data:`pipeline.rollout.ENGINE_OUTPUTS`): an output the stack already exports under that
id is kept, a missing one is added from the stack's attributes.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from pipeline.settings import StageTarget
from stacks.engine import ENGINE_PORT
from stacks.platform import Platform, PlatformStage


def _export(stack: cdk.Stack, output_id: str, value: str, description: str) -> None:
    if stack.node.try_find_child(output_id) is None:
        cdk.CfnOutput(stack, output_id, value=value, description=description)


def export_rollout_outputs(platform: Platform) -> None:
    """Add the outputs the rollout steps read to the Batch and engine stacks, if missing."""
    compute = platform.batch.compute
    template = compute.launch_template
    environments = [compute.spot.compute_environment_arn, compute.on_demand.compute_environment_arn]
    batch, engine = platform.batch, platform.engine
    assert template.launch_template_id is not None
    _export(batch, "BatchLaunchTemplateId", template.launch_template_id, "Batch hosts' template")
    _export(
        batch,
        "BatchLaunchTemplateVersion",
        template.latest_version_number,
        "Latest version of the Batch hosts' launch template",
    )
    _export(
        batch,
        "BatchComputeEnvironmentArns",
        cdk.Fn.join(",", environments),
        "Compute environments using that template (comma-separated)",
    )
    group = engine.host.group.auto_scaling_group_name
    _export(engine, "EngineAutoScalingGroupName", group, "The engine host's Auto Scaling group")
    _export(engine, "EnginePort", str(ENGINE_PORT), "Port of the engine API on its host")


def platform_stage(scope: Construct, construct_id: str, target: StageTarget) -> PlatformStage:
    """The kit's ``PlatformStage`` for ``target``, exporting the rollout outputs."""
    stage = PlatformStage(scope, construct_id, settings=target.settings, env=target.env)
    export_rollout_outputs(stage.platform)
    return stage
