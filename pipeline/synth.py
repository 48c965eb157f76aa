"""The synth step: the README's test command, ``cdk synth`` (with cdk-nag), then cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The README's test command: ruff, mypy and the whole pytest suite.
TEST_COMMAND = "make test"
#: ``cdk synth`` through the Makefile, so the venv's Python runs ``app.py``; the app applies
#: cdk-nag's AwsSolutions pack, whose unacknowledged findings fail the synthesis.
SYNTH_COMMAND = "make synth"
#: cfn-lint on every template: the pipeline stack's and each stage's.
LINT_COMMAND = ".venv/bin/cfn-lint cdk.out/*.template.json cdk.out/assembly-*/*.template.json"
#: What the step runs, in order; CodeBuild stops at the first failing command.
SYNTH_COMMANDS = (TEST_COMMAND, SYNTH_COMMAND, LINT_COMMAND)

#: CodeBuild image of every step (Ubuntu, Python 3.12, Node.js 20, AWS CLI v2).
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
RUNTIME_VERSIONS = {"python": "3.12", "nodejs": "20"}


def cdk_cli_version() -> str:
    """The CDK CLI version pinned in ``package.json`` (the self-mutation step installs it)."""
    package = json.loads((REPO_ROOT / "package.json").read_text())
    return str(package["devDependencies"]["aws-cdk"])


def synth_step(source: pipelines.IFileSetProducer) -> pipelines.CodeBuildStep:
    """The ``Synth`` step: test, synthesize, lint; its output is ``cdk.out``."""
    return pipelines.CodeBuildStep(
        "Synth",
        input=source,
        commands=list(SYNTH_COMMANDS),
        primary_output_directory="cdk.out",
        build_environment=codebuild.BuildEnvironment(
            build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM
        ),
        partial_build_spec=codebuild.BuildSpec.from_object(
            {"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}}
        ),
        env={"CI": "true", "PYTEST_WORKERS": "auto"},
    )
