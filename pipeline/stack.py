"""The pipeline stack: source, synth, staging, approval, production, rollouts.

It only composes: the source comes from :mod:`pipeline.source`, the synth step from
:mod:`pipeline.synth`, the post-deployment steps from :mod:`pipeline.rollout`, and each
stage from the ``stage_factory`` the app passes in (the kit's ``PlatformStage``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import pipelines
from constructs import Construct

from pipeline import nag
from pipeline.artifacts import ArtifactStore, ArtifactStoreProps
from pipeline.lint import lint_clean
from pipeline.rollout import RolloutStep, engine_step, launch_template_step
from pipeline.settings import PipelineSettings, StageTarget
from pipeline.source import pipeline_source
from pipeline.synth import BUILD_IMAGE, cdk_cli_version, synth_step

#: Builds one deployment of the kit: ``(scope, construct id, target) -> Stage``.
StageFactory = Callable[[Construct, str, StageTarget], cdk.Stage]
#: Id of the manual approval before production.
APPROVAL_STEP = "PromoteToProduction"
APPROVAL_COMMENT = "Staging is deployed and rolled out: promote this commit to production?"


class PipelineStack(cdk.Stack):
    """A self-mutating CDK pipeline that tests and deploys the kit; ``pipeline`` is it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: PipelineSettings,
        stage_factory: StageFactory,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("env", settings.env)
        kwargs.setdefault("description", "Ironside: CodePipeline that tests and deploys the kit")
        super().__init__(scope, construct_id, **kwargs)
        self.artifacts = ArtifactStore(self, "ArtifactStore", ArtifactStoreProps())
        self.source = pipeline_source(self, settings.source)
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=settings.pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            synth=synth_step(self.source),
            artifact_bucket=self.artifacts.bucket,
            self_mutation=True,
            cli_version=cdk_cli_version(),
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
            ),
        )
        self.rollouts: list[RolloutStep] = []
        self.stages = [self._add_stage(target, stage_factory) for target in settings.stages]
        self.pipeline.build_pipeline()
        lint_clean(self.pipeline.pipeline)
        self._acknowledge()

    def _add_stage(self, target: StageTarget, factory: StageFactory) -> cdk.Stage:
        """Deploy ``target`` (after the approval, for production), then its rollouts."""
        stage = factory(self, target.name, target)
        pre: list[pipelines.Step] = []
        if target.name == "production":
            pre.append(pipelines.ManualApprovalStep(APPROVAL_STEP, comment=APPROVAL_COMMENT))
        rollouts = [
            launch_template_step(stage, target, self.source),
            engine_step(stage, target, self.source),
        ]
        self.rollouts.extend(rollouts)
        self.pipeline.add_stage(stage, pre=pre, post=[r.step for r in rollouts])
        return stage

    def _acknowledge(self) -> None:
        """cdk-nag acknowledgements, each for one specific finding (see :mod:`pipeline.nag`)."""
        nag.acknowledge_artifact_grants(self, self.artifacts.bucket)
        nag.acknowledge_projects(self)
        mutation = self.pipeline.self_mutation_project
        nag.acknowledge(mutation, "IAM5[Resource::*]", nag.SELF_MUTATION_REASON)
        nag.acknowledge_bootstrap_roles([mutation])
        assets = self.pipeline.node.try_find_child("Assets")
        if assets is not None:  # only when a stage has assets to publish
            nag.acknowledge_asset_publishing(assets)
        nag.acknowledge_cross_region(self.pipeline.pipeline)
        for rollout in self.rollouts:
            nag.acknowledge_rollout(rollout)
