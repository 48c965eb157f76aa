"""Building the pipeline stack: missing outputs, cdk-nag across stages, the app switch."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from pipeline.app import add_pipeline, wants_pipeline
from pipeline.lint import join_to_sub
from pipeline.rollout import MissingOutputError
from pipeline.settings import StageTarget
from tests.pipeline.synth import (
    SOURCE_CONTEXTS,
    MinimalStage,
    Synthesized,
    cdk_json_context,
    cfn_lint,
    synthesize,
)


class NoOutputsStage(cdk.Stage):
    """A stage exporting nothing."""

    def __init__(self, scope: Construct, construct_id: str, target: StageTarget) -> None:
        super().__init__(scope, construct_id)
        ssm.StringParameter(cdk.Stack(self, "Only"), "Marker", string_value="x")


class CarelessStage(MinimalStage):
    """:class:`MinimalStage` plus a bucket without TLS enforcement or access logs."""

    def __init__(self, scope: Construct, construct_id: str, target: StageTarget) -> None:
        super().__init__(scope, construct_id, target)
        s3.Bucket(cdk.Stack(self, "Careless"), "Bucket")


def test_stage_without_rollout_outputs_fails_naming_them() -> None:
    app = cdk.App(context={**cdk_json_context(), **SOURCE_CONTEXTS["s3"]})
    with pytest.raises(MissingOutputError) as raised:
        add_pipeline(app, NoOutputsStage)
    assert "BatchComputeEnvironmentArns, BatchLaunchTemplateId" in str(raised.value)
    assert "'staging'" in str(raised.value)


def test_cdk_nag_finding_in_a_stage_fails_synthesis(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(tmp_path, "s3", CarelessStage)
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-S10" in report
    assert "staging/Careless/Bucket" in report


def test_stage_in_another_region(two_regions: Synthesized) -> None:
    """The deployment runs in the stage's region; so do the rollout calls (cdk-nag clean)."""
    prepare = next(a for a in two_regions.stage("production")["Actions"] if "Prepare" in a["Name"])
    assert prepare["Region"] == "eu-central-1"
    for step in ("RollOutLaunchTemplate", "RollEngineHost"):
        action = two_regions.action("production", step)
        project = two_regions.json["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
        variables = project["Properties"]["Environment"]["EnvironmentVariables"]
        assert {"Name": "AWS_REGION", "Type": "PLAINTEXT", "Value": "eu-central-1"} in variables
        staging = two_regions.action("staging", step)
        project = two_regions.json["Resources"][staging["Configuration"]["ProjectName"]["Ref"]]
        assert "EnvironmentVariables" not in project["Properties"]["Environment"]
    support = list(two_regions.outdir.glob("cross-region-stack-*.template.json"))
    assert len(support) == 1
    result = cfn_lint(two_regions.templates())
    assert result.returncode == 0, result.stdout + result.stderr


def test_pipeline_switch_is_the_source_key() -> None:
    assert wants_pipeline(cdk.App(context=SOURCE_CONTEXTS["codecommit"]))
    assert not wants_pipeline(cdk.App(context=cdk_json_context()))


def test_join_to_sub() -> None:
    join = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":x/", {"Fn::GetAtt": ["R", "Arn"]}]]
    }
    assert join_to_sub(join) == {"Fn::Sub": "arn:${AWS::Partition}:x/${R.Arn}"}
    unsupported = {"Fn::Join": ["", ["a", {"Fn::Select": [0, ["b"]]}]]}
    assert join_to_sub(unsupported) is unsupported
    assert join_to_sub("plain") == "plain"
