"""Pipeline settings from context: each source kind, the stages, and every bad value."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from pipeline.settings import (
    CodeCommitSource,
    ConnectionSource,
    PipelineSettings,
    PipelineSettingsError,
    S3Source,
)
from tests.pipeline.synth import CONNECTION_ARN, SOURCE_CONTEXTS

CONNECTION = SOURCE_CONTEXTS["connection"]
CODECOMMIT = SOURCE_CONTEXTS["codecommit"]
S3 = SOURCE_CONTEXTS["s3"]


def read(context: dict[str, Any]) -> PipelineSettings:
    """Settings as ``app.py`` reads them: from an app's context."""
    return PipelineSettings.from_context(cdk.App(context=context).node)


def test_connection_source() -> None:
    source = read(CONNECTION).source
    assert source == ConnectionSource(CONNECTION_ARN, "acme/ironside", "release")


def test_codestar_connection_arn_is_accepted_and_branch_defaults_to_main() -> None:
    arn = CONNECTION_ARN.replace("codeconnections", "codestar-connections")
    context = {**CONNECTION, "ironside:pipelineConnectionArn": arn}
    del context["ironside:pipelineBranch"]
    source = read(context).source
    assert isinstance(source, ConnectionSource)
    assert (source.connection_arn, source.branch) == (arn, "main")


def test_codecommit_source() -> None:
    assert read(CODECOMMIT).source == CodeCommitSource("ironside", "main")


def test_s3_source() -> None:
    assert read(S3).source == S3Source("acme-ironside-source", "releases/ironside.zip")


def test_stages_in_order_with_their_own_settings() -> None:
    settings = read({**CODECOMMIT, "ironside:namePrefix": "genomics"})
    staging, production = settings.stages
    assert (staging.name, production.name) == ("staging", "production")
    assert staging.settings.name_prefix == "genomics-stg"
    assert production.settings.name_prefix == "genomics"
    assert (staging.env, production.env, settings.env) == (None, None, None)


def test_stage_overrides_from_json_string_and_accounts() -> None:
    context = {
        **CODECOMMIT,
        "ironside:pipelineAccount": "111111111111",
        "ironside:pipelineRegion": "eu-west-1",
        "ironside:spotMaxVcpus": 256,
        "ironside:staging": '{"spotMaxVcpus": 16, "namePrefix": "ironside-test"}',
        "ironside:production": {"account": "111111111111", "region": "eu-central-1"},
    }
    settings = read(context)
    staging, production = settings.stages
    assert staging.settings.spot_max_vcpus == 16
    assert staging.settings.name_prefix == "ironside-test"
    assert production.settings.spot_max_vcpus == 256
    assert production.env is not None
    assert (production.env.account, production.env.region) == ("111111111111", "eu-central-1")
    assert settings.env is not None and settings.env.region == "eu-west-1"


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("no source", {}, "pipelineSource"),
    ("unknown source kind", {"ironside:pipelineSource": "github"}, "pipelineSource"),
    (
        "connection without ARN",
        {k: v for k, v in CONNECTION.items() if k != "ironside:pipelineConnectionArn"},
        "pipelineConnectionArn",
    ),
    (
        "connection ARN of another service",
        {**CONNECTION, "ironside:pipelineConnectionArn": "arn:aws:codecommit:eu-west-1:1:x"},
        "pipelineConnectionArn",
    ),
    (
        "connection repository without owner",
        {**CONNECTION, "ironside:pipelineRepository": "ironside"},
        "pipelineRepository",
    ),
    (
        "connection without repository",
        {k: v for k, v in CONNECTION.items() if k != "ironside:pipelineRepository"},
        "pipelineRepository",
    ),
    ("bad branch", {**CONNECTION, "ironside:pipelineBranch": "a..b"}, "pipelineBranch"),
    ("branch not a string", {**CONNECTION, "ironside:pipelineBranch": 7}, "pipelineBranch"),
    (
        "codecommit without repository",
        {"ironside:pipelineSource": "codecommit"},
        "pipelineRepository",
    ),
    (
        "codecommit repository with owner",
        {**CODECOMMIT, "ironside:pipelineRepository": "acme/ironside"},
        "pipelineRepository",
    ),
    (
        "s3 without bucket",
        {k: v for k, v in S3.items() if k != "ironside:pipelineBucket"},
        "pipelineBucket",
    ),
    ("s3 bad bucket", {**S3, "ironside:pipelineBucket": "Acme_Source"}, "pipelineBucket"),
    (
        "s3 without key",
        {k: v for k, v in S3.items() if k != "ironside:pipelineObjectKey"},
        "pipelineObjectKey",
    ),
    (
        "s3 key with a leading slash",
        {**S3, "ironside:pipelineObjectKey": "/x.zip"},
        "pipelineObjectKey",
    ),
    ("pipeline region", {**S3, "ironside:pipelineRegion": "mars"}, "pipelineRegion"),
    ("staging not JSON", {**S3, "ironside:staging": "{namePrefix"}, "staging"),
    ("staging not an object", {**S3, "ironside:staging": [1]}, "staging"),
    ("staging unknown setting", {**S3, "ironside:staging": {"vcpus": 4}}, "staging"),
    ("staging bad kit value", {**S3, "ironside:staging": {"spotMaxVcpus": -1}}, "staging"),
    ("production bad account", {**S3, "ironside:production": {"account": "123"}}, "production"),
    (
        "stage account without pipeline account",
        {**S3, "ironside:production": {"account": "222222222222"}},
        "pipelineAccount",
    ),
    (
        "stage in another account",
        {
            **S3,
            "ironside:pipelineAccount": "111111111111",
            "ironside:production": {"account": "222222222222"},
        },
        "production",
    ),
    # The later stage is named; the message names the earlier one.
    ("stages clash", {**S3, "ironside:staging": {"namePrefix": "ironside"}}, "production"),
]


@pytest.mark.parametrize(("context", "key"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_setting_fails_naming_the_key(context: dict[str, Any], key: str) -> None:
    with pytest.raises(PipelineSettingsError) as raised:
        read(context)
    assert raised.value.key == f"ironside:{key}"
    assert f"context key 'ironside:{key}'" in str(raised.value)


def test_bad_kit_value_in_a_stage_names_both_keys() -> None:
    with pytest.raises(PipelineSettingsError) as raised:
        read({**S3, "ironside:staging": {"spotMaxVcpus": -1}})
    assert "'ironside:staging'" in str(raised.value)
    assert "'ironside:spotMaxVcpus'" in str(raised.value)
