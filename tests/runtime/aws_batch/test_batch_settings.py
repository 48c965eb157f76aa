"""The AWS Batch config subtree: defaults, Cromwell's key names, errors naming the key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ironside.backends.aws_batch.settings import parse_settings
from ironside.errors import BadConfig

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/default"
GOOD: dict[str, Any] = {
    "root": "s3://my-bucket/cromwell-execution",
    "default-runtime-attributes": {"queueArn": QUEUE, "scriptBucketName": "my-scripts"},
}


def with_(path: str, value: Any) -> dict[str, Any]:
    """GOOD with ``path`` (dotted) set to ``value``; ``...`` deletes it."""
    config = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return config


def test_minimal_config_gets_defaults() -> None:
    settings = parse_settings(GOOD)
    assert settings.root_bucket == "my-bucket"
    assert settings.root == "s3://my-bucket/cromwell-execution"
    assert settings.queue_arn == QUEUE
    assert settings.script_bucket == "my-scripts"
    assert settings.concurrent_job_limit is None
    assert settings.num_submit_attempts == 5
    assert settings.duplication_strategy == "copy"
    assert settings.s3_auth == "default"
    assert not settings.docker_mirror.enabled


def test_full_config_is_read() -> None:
    config = copy.deepcopy(GOOD)
    config.update(
        {
            "concurrent-job-limit": 16,
            "numSubmitAttempts": 3,
            "numCreateDefinitionAttempts": 7,
            "dockerhub": {"account": "me", "token": "c2VjcmV0OnRva2Vu"},
            "docker-mirror": {"dockerhub": {"enabled": True, "address": "1.dkr.ecr.aws/hub/"}},
            "filesystems": {
                "s3": {"auth": "default", "caching": {"duplication-strategy": "reference"}}
            },
            "allowed-job-role-arns": ["arn:aws:iam::123456789012:role/team-*"],
        }
    )
    settings = parse_settings(config)
    assert settings.concurrent_job_limit == 16
    assert settings.num_submit_attempts == 3
    assert settings.num_create_definition_attempts == 7
    assert settings.docker_mirror.address == "1.dkr.ecr.aws/hub"
    assert settings.duplication_strategy == "reference"
    assert settings.allowed_job_role_arns == ("arn:aws:iam::123456789012:role/team-*",)
    assert settings.dockerhub.token is not None
    assert settings.dockerhub.token.value == "c2VjcmV0OnRva2Vu"


def test_dotted_keys_are_accepted() -> None:
    config = {
        "root": "s3://my-bucket",
        "default-runtime-attributes.queueArn": QUEUE,
        "default-runtime-attributes.scriptBucketName": "my-scripts",
    }
    settings = parse_settings(config)
    assert settings.root_prefix == ""
    assert settings.script_bucket == "my-scripts"


def test_dockerhub_token_never_in_repr() -> None:
    config = with_("dockerhub", {"account": "me", "token": "s3cr3t-t0ken"})
    settings = parse_settings(config)
    assert "s3cr3t-t0ken" not in repr(settings)
    assert "s3cr3t-t0ken" not in str(settings.dockerhub)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("root", ..., "root"),
        ("root", "/local/path", "root"),
        ("root", "s3://Bad_Bucket/x", "root"),
        ("root", "s3://ab/x", "root"),
        ("default-runtime-attributes.queueArn", ..., "default-runtime-attributes.queueArn"),
        ("default-runtime-attributes.queueArn", "default", "default-runtime-attributes.queueArn"),
        (
            "default-runtime-attributes.queueArn",
            "arn:aws:batch:us-east-1:12345:job-queue/q",
            "default-runtime-attributes.queueArn",
        ),
        ("default-runtime-attributes.scriptBucketName", ..., "scriptBucketName"),
        ("default-runtime-attributes.scriptBucketName", "s3://x", "scriptBucketName"),
        ("default-runtime-attributes.scriptBucketName", "192.168.1.1", "scriptBucketName"),
        ("concurrent-job-limit", 0, "concurrent-job-limit"),
        ("concurrent-job-limit", "many", "concurrent-job-limit"),
        ("numSubmitAttempts", -1, "numSubmitAttempts"),
        ("numCreateDefinitionAttempts", True, "numCreateDefinitionAttempts"),
        ("dockerhub.token", 42, "dockerhub.token"),
        ("docker-mirror.dockerhub.enabled", "yes", "docker-mirror.dockerhub.enabled"),
        ("docker-mirror.dockerhub", {"enabled": True}, "docker-mirror.dockerhub.address"),
        ("filesystems.s3.auth", "", "filesystems.s3.auth"),
        ("filesystems.s3.caching.duplication-strategy", "hardlink", "duplication-strategy"),
        ("allowed-job-role-arns", "arn:aws:iam::1:role/x", "allowed-job-role-arns"),
        ("allowed-job-role-arns", ["role/x"], "allowed-job-role-arns"),
        ("job-role-arn", "arn:aws:iam::123456789012:user/x", "job-role-arn"),
        ("submit-rate", 0, "submit-rate"),
        ("submit-rate-min", "slow", "submit-rate-min"),
        ("submit-rate-min", 50, "submit-rate-min: 50.0 is above submit-rate 10.0"),
        ("submit-rate-max", -1, "submit-rate-max"),
        ("submit-rate-max", 5, "submit-rate-max: 5.0 is below submit-rate 10.0"),
        ("array-jobs", "always", "array-jobs: 'always' is not one of auto, never"),
        ("array-jobs", True, "array-jobs: True is not one of auto, never"),
        ("array-jobs-min-size", 1, "array-jobs-min-size: 1 is below 2"),
        ("array-jobs-min-size", 10_001, "array-jobs-min-size: 10001 is above 10000"),
        ("array-jobs-min-size", "few", "array-jobs-min-size: 'few' is not an integer"),
    ],
)
def test_bad_config_names_the_key(path: str, value: Any, named: str) -> None:
    with pytest.raises(BadConfig, match=named.replace(".", r"\.")):
        parse_settings(with_(path, value))


def test_dockerhub_token_not_in_error() -> None:
    config = with_("dockerhub", {"account": 7, "token": "s3cr3t-t0ken"})
    with pytest.raises(BadConfig) as caught:
        parse_settings(config)
    assert "s3cr3t-t0ken" not in str(caught.value)
    assert "dockerhub.account" in str(caught.value)


def test_submit_rates_default_and_configured() -> None:
    default = parse_settings(with_("submit-rate", 10))
    assert (default.submit_rate, default.submit_rate_min, default.submit_rate_max) == (10, 0.1, 10)
    tuned = parse_settings({**with_("submit-rate-min", 2), "submit-rate-max": 40})
    assert (tuned.submit_rate, tuned.submit_rate_min, tuned.submit_rate_max) == (10, 2, 40)
