"""The source stage per source kind, and what the rest of the pipeline reads from it."""

from __future__ import annotations

import json

from tests.pipeline.synth import CONNECTION_ARN, Synthesized

EXPECTED = {
    "connection": (
        "CodeStarSourceConnection",
        {
            "ConnectionArn": CONNECTION_ARN,
            "FullRepositoryId": "acme/ironside",
            "BranchName": "release",
            "DetectChanges": True,
        },
    ),
    "codecommit": (
        "CodeCommit",
        {"RepositoryName": "ironside", "BranchName": "main", "PollForSourceChanges": False},
    ),
    "s3": (
        "S3",
        {
            "S3Bucket": "acme-ironside-source",
            "S3ObjectKey": "releases/ironside.zip",
            "PollForSourceChanges": False,
        },
    ),
}


def test_source_action(by_kind: tuple[str, Synthesized]) -> None:
    kind, synth = by_kind
    provider, configuration = EXPECTED[kind]
    (action,) = synth.stage("Source")["Actions"]
    assert action["Name"] == "Checkout"
    assert action["ActionTypeId"] == {
        "Category": "Source",
        "Owner": "AWS",
        "Provider": provider,
        "Version": "1",
    }
    assert action["Configuration"] == configuration


def test_synth_and_rollouts_read_the_source(by_kind: tuple[str, Synthesized]) -> None:
    """The scripts the rollout steps run come from the same commit as the templates."""
    _, synth = by_kind
    (source,) = synth.stage("Source")["Actions"][0]["OutputArtifacts"]
    assert synth.action("Build", "Synth")["InputArtifacts"] == [source]
    for stage in ("staging", "production"):
        for step in ("RollOutLaunchTemplate", "RollEngineHost"):
            assert synth.action(stage, step)["InputArtifacts"] == [source]


def test_push_or_upload_starts_a_run(by_kind: tuple[str, Synthesized]) -> None:
    """Connections detect pushes themselves; CodeCommit and S3 through EventBridge rules."""
    kind, synth = by_kind
    rules = synth.resources("AWS::Events::Rule").values()
    patterns = [json.dumps(r["Properties"]["EventPattern"]) for r in rules]
    if kind == "codecommit":
        assert any('"referenceUpdated"' in p and '"main"' in p for p in patterns)
    elif kind == "s3":
        assert any("acme-ironside-source" in p and "releases/ironside.zip" in p for p in patterns)
    else:
        assert synth.stage("Source")["Actions"][0]["Configuration"]["DetectChanges"] is True
