"""The kit's stages for the pipeline: ``PlatformStage`` with the stage's settings.

:func:`platform_stage` is the :data:`pipeline.stack.StageFactory` ``app.py`` hands to
:class:`pipeline.stack.PipelineStack`. The kit's stacks export what the rollout steps
read themselves (:data:`pipeline.rollout.LAUNCH_TEMPLATE_OUTPUTS` from the Batch stack,
:data:`pipeline.rollout.ENGINE_OUTPUTS` from the engine stack);
:func:`pipeline.rollout.find_outputs` fails synth if one goes missing.
"""

from __future__ import annotations

from constructs import Construct

from pipeline.settings import StageTarget
from stacks.platform import PlatformStage


def platform_stage(scope: Construct, construct_id: str, target: StageTarget) -> PlatformStage:
    """The kit's ``PlatformStage`` for ``target``."""
    return PlatformStage(scope, construct_id, settings=target.settings, env=target.env)
