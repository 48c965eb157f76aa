"""Synthesizing the pipeline app for the tests: contexts per source kind, a minimal stage."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from launch_template.user_data import HOST_ASSETS_DIR
from pipeline.app import PIPELINE_STACK_ID, add_pipeline
from pipeline.rollout import ENGINE_OUTPUTS, LAUNCH_TEMPLATE_OUTPUTS
from pipeline.settings import StageTarget
from pipeline.stack import StageFactory

REPO = Path(__file__).resolve().parents[2]
CONNECTION_ARN = (
    "arn:aws:codeconnections:eu-west-1:111111111111:connection/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
)
#: Pipeline context per source kind (merged over ``cdk.json``'s context), plus variants.
SOURCE_CONTEXTS: dict[str, dict[str, Any]] = {
    "connection": {
        "ironside:pipelineSource": "connection",
        "ironside:pipelineConnectionArn": CONNECTION_ARN,
        "ironside:pipelineRepository": "acme/ironside",
        "ironside:pipelineBranch": "release",
    },
    "codecommit": {
        "ironside:pipelineSource": "codecommit",
        "ironside:pipelineRepository": "ironside",
    },
    "s3": {
        "ironside:pipelineSource": "s3",
        "ironside:pipelineBucket": "acme-ironside-source",
        "ironside:pipelineObjectKey": "releases/ironside.zip",
    },
}
#: A pipeline in eu-west-1 whose production stage deploys to eu-central-1.
SOURCE_CONTEXTS["s3-two-regions"] = {
    **SOURCE_CONTEXTS["s3"],
    "ironside:pipelineAccount": "111111111111",
    "ironside:pipelineRegion": "eu-west-1",
    "ironside:production": {"region": "eu-central-1"},
}


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` of ``cdk.json`` (kit settings and feature flags)."""
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]
    return context


class MinimalStage(cdk.Stage):
    """A stand-in for the kit's stage: the outputs the rollouts read and one file asset."""

    def __init__(self, scope: Construct, construct_id: str, target: StageTarget) -> None:
        super().__init__(scope, construct_id, env=target.env)
        prefix = target.settings.name_prefix
        stacks = {}
        for name, outputs in (("batch", LAUNCH_TEMPLATE_OUTPUTS), ("engine", ENGINE_OUTPUTS)):
            stack = stacks[name] = cdk.Stack(self, f"{prefix}-{name}")
            ssm.StringParameter(stack, "Marker", string_value=prefix)
            for output in outputs.values():
                cdk.CfnOutput(stack, output, value=f"{prefix}-{output}")
        s3_assets.Asset(stacks["batch"], "Host", path=str(HOST_ASSETS_DIR))


@dataclass
class Synthesized:
    """One synthesized pipeline app (its cloud assembly directory) and its templates."""

    outdir: Path

    @cached_property
    def template(self) -> Template:
        """The assertions ``Template`` of the pipeline stack."""
        return Template.from_json(self.json)

    @cached_property
    def json(self) -> dict[str, Any]:
        """The pipeline stack's template."""
        data: dict[str, Any] = json.loads(
            (self.outdir / f"{PIPELINE_STACK_ID}.template.json").read_text()
        )
        return data

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        """``{logical id: resource}`` of one type in the pipeline stack."""
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == type_}

    @cached_property
    def stages(self) -> list[dict[str, Any]]:
        """The ``Stages`` of the CodePipeline."""
        (pipeline,) = self.resources("AWS::CodePipeline::Pipeline").values()
        stages: list[dict[str, Any]] = pipeline["Properties"]["Stages"]
        return stages

    def stage(self, name: str) -> dict[str, Any]:
        """One pipeline stage by name."""
        return next(s for s in self.stages if s["Name"] == name)

    def action(self, stage: str, name: str) -> dict[str, Any]:
        """One action of one stage by name."""
        return next(a for a in self.stage(stage)["Actions"] if a["Name"] == name)

    def templates(self) -> list[Path]:
        """Every template in the assembly: the pipeline stack's and each stage's."""
        return sorted(self.outdir.glob("*.template.json")) + sorted(
            self.outdir.glob("assembly-*/*.template.json")
        )


def cfn_lint(templates: list[Path]) -> subprocess.CompletedProcess[str]:
    """cfn-lint (the venv's, as the synth step runs it) on ``templates``."""
    lint = Path(sys.executable).parent / "cfn-lint"
    paths = [str(p) for p in templates]
    return subprocess.run([str(lint), *paths], capture_output=True, text=True, cwd=REPO)


def synthesize(outdir: Path, kind: str, factory: StageFactory | None = None) -> Synthesized:
    """Synthesize the pipeline app for ``kind`` with cdk-nag (raises on a finding)."""
    context = {**cdk_json_context(), **SOURCE_CONTEXTS[kind]}
    app = cdk.App(outdir=str(outdir), context=context)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    if factory is None:
        add_pipeline(app)
    else:
        add_pipeline(app, factory)
    app.synth()
    return Synthesized(outdir)


def synthesize_once(shared: Path, kind: str, factory: StageFactory | None = None) -> Synthesized:
    """:func:`synthesize` into ``shared/<kind>`` unless another worker already did.

    pytest-xdist workers share ``shared``; an exclusive lock per kind makes the first
    worker synthesize and the others wait for it and read its assembly.
    """
    outdir = shared / kind
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / f"{kind}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / f"{kind}.done"
        if not done.exists():
            synthesize(outdir, kind, factory)
            done.touch()
    return Synthesized(outdir)
