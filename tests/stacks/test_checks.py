"""Whole-assembly checks: cdk-nag, cfn-lint, environment-agnostic synthesis, the summary."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from stacks.summary import summarize
from tests.stacks.conftest import Synthesized


def test_nag_checks_are_active() -> None:
    """The session synthesis ran AwsSolutions: the same setup rejects a bare bucket."""
    app = cdk.App(outdir=None)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "Bare")
    s3.CfnBucket(stack, "Bucket")
    with pytest.raises(Exception, match="AwsSolutions-S1"):
        app.synth()


def test_every_acknowledgement_has_a_specific_reason(synth: Synthesized) -> None:
    acknowledgements = [a for a in _acknowledgements(synth.outdir) if "AwsSolutions-" in a[1]]
    assert acknowledgements, "expected the kit's documented acknowledgements"
    for path, rule, reason in acknowledgements:
        assert rule.removeprefix("Annotation::").startswith("AwsSolutions-"), (path, rule)
        assert len(reason) >= 40, (path, rule, reason)


def _acknowledgements(outdir: Path) -> list[tuple[str, str, str]]:
    found = []
    for metadata in outdir.glob("*.metadata.json"):
        for path, entries in json.loads(metadata.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found += [(path, rule, reason) for rule, reason in entry["data"].items()]
    return found


def test_cfn_lint_clean(synth: Synthesized) -> None:
    """No errors and no warnings (cfn-lint exits 0 only then; informational allowed)."""
    run_cfn_lint(synth.outdir)


def run_cfn_lint(outdir: Path) -> None:
    """Assert cfn-lint reports no error and no warning on the templates in ``outdir``."""
    cfn_lint = shutil.which("cfn-lint") or str(Path(sys.executable).parent / "cfn-lint")
    templates = sorted(str(p) for p in outdir.glob("*.template.json"))
    result = subprocess.run(
        [cfn_lint, "--format", "parseable", *templates], capture_output=True, text=True
    )
    findings = [line for line in result.stdout.splitlines() if not re.search(r":I\d+:", line)]
    assert result.returncode in (0, 8) and not findings, result.stdout + result.stderr


def test_environment_agnostic(synth: Synthesized) -> None:
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert len(stacks) == 8
    assert {a["environment"] for a in stacks} == {"aws://unknown-account/unknown-region"}
    for name, template in synth.templates.items():
        text = json.dumps(template)
        assert not re.search(r"\b\d{12}\b", text), f"{name} hard-codes an account id"
        assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", text), name


def test_summary_table(synth: Synthesized) -> None:
    table = summarize(synth.outdir)
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["stack", "resources"]
    for name in synth.templates:
        assert any(line.startswith(name) for line in lines)
    assert "2 compute environments" in table and "2 pull-through rules" in table
