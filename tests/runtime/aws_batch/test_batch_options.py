"""Workflow options aws_batch_script_bucket_prefix and aws_batch_job_role_arn."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ironside.backends.aws_batch.images import pulled_image
from ironside.backends.aws_batch.options import job_role_arn, parse_options, script_prefix
from ironside.backends.aws_batch.scripts import script_key
from ironside.backends.aws_batch.settings import DockerMirror, parse_settings
from ironside.errors import BadOptions

SETTINGS = parse_settings(
    {
        "root": "s3://my-bucket/x",
        "default-runtime-attributes": {
            "queueArn": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
            "scriptBucketName": "my-cromwell-scripts",
        },
    }
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "scripts/"),
        ("", "scripts/"),
        ("my-prefix", "my-prefix/"),
        ("my-prefix/", "my-prefix/"),
        ("team-alpha/project-genomics/scripts", "team-alpha/project-genomics/scripts/"),
        ("workflows/2024/genomics-pipeline", "workflows/2024/genomics-pipeline/"),
        ("a.b/c_d/(e)/f!g*h'", "a.b/c_d/(e)/f!g*h'/"),
    ],
)
def test_prefix_rules(value: Any, expected: str) -> None:
    assert script_prefix(value) == expected


@pytest.mark.parametrize(
    ("prefix", "url"),
    [
        (
            "team-alpha/project-genomics/scripts",
            "s3://my-cromwell-scripts/team-alpha/project-genomics/scripts/{hash}",
        ),
        (
            "workflows/2024/genomics-pipeline",
            "s3://my-cromwell-scripts/workflows/2024/genomics-pipeline/{hash}",
        ),
        (None, "s3://my-cromwell-scripts/scripts/{hash}"),
    ],
)
def test_documented_examples_verbatim(prefix: str | None, url: str) -> None:
    script = "#!/bin/bash\necho hello\n"
    digest = script_key(script, "")
    key = script_key(script, script_prefix(prefix))
    assert f"s3://{SETTINGS.script_bucket}/{key}" == url.format(hash=digest)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/absolute/prefix", "must not start with '/'"),
        ("a/../b", "'..' segments"),
        ("a/./b", "'.' segments"),
        ("..", "'..' segments"),
        ("a//b", "empty segment"),
        ("a/b c", "outside S3's safe set"),
        ("a/b?c", "outside S3's safe set"),
        ("naïve", "outside S3's safe set"),
        ("a\\b", "outside S3's safe set"),
        (42, "must be a string"),
        ("x" * 901, "longer than 900 bytes"),
    ],
)
def test_prefix_rejections_say_why(value: Any, reason: str) -> None:
    with pytest.raises(BadOptions) as caught:
        script_prefix(value)
    assert "aws_batch_script_bucket_prefix" in str(caught.value)
    assert reason in str(caught.value)


def test_role_arn_accepted_and_default() -> None:
    arn = "arn:aws:iam::123456789012:role/MyJobRole"
    assert job_role_arn(arn, SETTINGS) == arn
    assert job_role_arn("arn:aws-cn:iam::123456789012:role/path/to/R", SETTINGS)
    assert job_role_arn(None, SETTINGS) is None
    kit = dataclasses.replace(SETTINGS, default_job_role_arn="arn:aws:iam::123456789012:role/kit")
    assert job_role_arn("", kit) == "arn:aws:iam::123456789012:role/kit"


@pytest.mark.parametrize(
    "value",
    [
        "MyJobRole",
        "arn:aws:iam::123456789012:user/MyJobRole",
        "arn:aws:iam::1234:role/MyJobRole",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:s3:::bucket",
        7,
    ],
)
def test_malformed_role_arns_refused(value: Any) -> None:
    with pytest.raises(BadOptions, match="aws_batch_job_role_arn.*not an IAM role ARN"):
        job_role_arn(value, SETTINGS)


def test_role_arn_must_match_allowed_patterns() -> None:
    limited = dataclasses.replace(
        SETTINGS, allowed_job_role_arns=("arn:aws:iam::123456789012:role/team-*",)
    )
    assert job_role_arn("arn:aws:iam::123456789012:role/team-a", limited)
    with pytest.raises(BadOptions, match="not allowed by this server's allowed-job-role-arns"):
        job_role_arn("arn:aws:iam::123456789012:role/admin", limited)
    with pytest.raises(BadOptions, match="allowed-job-role-arns"):
        job_role_arn("arn:aws:iam::999999999999:role/team-a", limited)


def test_parse_options_combines_both() -> None:
    parsed = parse_options(
        {
            "aws_batch_job_role_arn": "arn:aws:iam::123456789012:role/R",
            "aws_batch_script_bucket_prefix": "p",
        },
        SETTINGS,
    )
    assert parsed.job_role_arn == "arn:aws:iam::123456789012:role/R"
    assert parsed.script_prefix == "p/"


MIRROR = DockerMirror(
    enabled=True, address="123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub"
)
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub"


@pytest.mark.parametrize(
    ("image", "pulled"),
    [
        ("ubuntu", f"{ECR}/library/ubuntu"),
        ("ubuntu:24.04", f"{ECR}/library/ubuntu:24.04"),
        ("ubuntu@sha256:abc", f"{ECR}/library/ubuntu@sha256:abc"),
        ("broadinstitute/gatk:4.5.0.0", f"{ECR}/broadinstitute/gatk:4.5.0.0"),
        ("docker.io/ubuntu:22.04", f"{ECR}/library/ubuntu:22.04"),
        ("docker.io/biocontainers/samtools:1.9", f"{ECR}/biocontainers/samtools:1.9"),
        ("index.docker.io/library/python:3.11", f"{ECR}/library/python:3.11"),
        ("registry-1.docker.io/bitnami/redis", f"{ECR}/bitnami/redis"),
        ("quay.io/biocontainers/bwa:0.7.17", "quay.io/biocontainers/bwa:0.7.17"),
        ("public.ecr.aws/lts/ubuntu:22.04", "public.ecr.aws/lts/ubuntu:22.04"),
        ("ghcr.io/org/tool:1", "ghcr.io/org/tool:1"),
        ("localhost:5000/tool", "localhost:5000/tool"),
        ("localhost/tool", "localhost/tool"),
    ],
)
def test_docker_mirror_rewrite_table(image: str, pulled: str) -> None:
    assert pulled_image(image, MIRROR) == pulled


def test_docker_mirror_disabled_leaves_images() -> None:
    assert (
        pulled_image("ubuntu:24.04", DockerMirror(enabled=False, address="x.io/hub"))
        == "ubuntu:24.04"
    )
