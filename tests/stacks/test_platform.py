"""The platform as a Stage (how the pipeline deploys it)."""

from __future__ import annotations

import aws_cdk as cdk

from stacks.platform import PlatformStage
from tests.stacks.synth import cdk_json_context


def test_platform_stage_builds_every_stack_in_dependency_order() -> None:
    app = cdk.App(context={**cdk_json_context(), "ironside:namePrefix": "staging"})
    stage = PlatformStage(app, "Staging")
    names = [stack.stack_name for stack in stage.platform.stacks]
    assert names == [
        f"Staging-staging-{role}"
        for role in (
            "network",
            "storage",
            "observability",
            "registry",
            "database",
            "batch",
            "iam",
            "engine",
        )
    ]
    assert stage.settings.name_prefix == "staging"
    engine = stage.platform.engine
    # Explicit dependencies (references add the others at synthesis).
    assert {d.stack_name for d in engine.dependencies} >= {
        "Staging-staging-storage",
        "Staging-staging-observability",
    }
