"""Synthesizing the app the way ``cdk synth`` does, for tests and scripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from stacks.platform import Platform, add_platform
from stacks.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` of ``cdk.json`` (settings and feature flags)."""
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]
    return context


def build(
    outdir: str, overrides: dict[str, Any] | None = None, *, nag: bool = False
) -> tuple[cdk.App, Platform]:
    """An app with ``cdk.json``'s context plus ``overrides`` and the whole platform."""
    app = cdk.App(outdir=outdir, context={**cdk_json_context(), **(overrides or {})})
    if nag:
        from cdk_nag import AwsSolutionsChecks

        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, add_platform(app, Settings.from_context(app.node))
