"""One synthesis of the whole app (with cdk-nag) per test session and worker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.settings import Settings
from tests.stacks.synth import build


@dataclass(frozen=True)
class Synthesized:
    """The cloud assembly of one synthesis: its directory, settings and templates."""

    outdir: Path
    settings: Settings
    templates: dict[str, dict[str, Any]]

    def template(self, role: str) -> Template:
        """The assertions ``Template`` of stack ``<prefix>-<role>``."""
        return Template.from_json(self.templates[self.settings.name(role)])

    def resources(self, role: str, type_: str) -> dict[str, dict[str, Any]]:
        """``{logical id: resource}`` of one type in one stack."""
        resources = self.templates[self.settings.name(role)]["Resources"]
        return {k: v for k, v in resources.items() if v["Type"] == type_}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app as ``cdk synth`` builds it, with AwsSolutions checks (fails on findings)."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, platform = build(str(outdir), nag=True)
    app.synth()
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    settings = Settings.from_context(app.node)
    assert set(templates) == {stack.stack_name for stack in platform.stacks}
    return Synthesized(outdir=outdir, settings=settings, templates=templates)
