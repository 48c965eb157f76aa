"""Adding the pipeline to the kit's CDK app (what ``app.py`` calls)."""

from __future__ import annotations

import aws_cdk as cdk

from pipeline.platform import platform_stage
from pipeline.settings import PREFIX, PipelineSettings
from pipeline.stack import PipelineStack, StageFactory

#: The context key whose presence turns the app into the pipeline app.
PIPELINE_SOURCE_KEY = PREFIX + "pipelineSource"
#: Id (and CloudFormation name) of the pipeline stack.
PIPELINE_STACK_ID = "IronsidePipeline"


def wants_pipeline(app: cdk.App) -> bool:
    """Whether the context configures a pipeline source (``ironside:pipelineSource``)."""
    return app.node.try_get_context(PIPELINE_SOURCE_KEY) is not None


def add_pipeline(app: cdk.App, stage_factory: StageFactory = platform_stage) -> PipelineStack:
    """The pipeline stack, configured from the app's context; raises naming a bad key."""
    settings = PipelineSettings.from_context(app.node)
    return PipelineStack(app, PIPELINE_STACK_ID, settings=settings, stage_factory=stage_factory)
