"""The HOCON the engine stack writes is read by the engine as intended."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.batch import SCRATCH_MOUNT
from stacks.constructs.engine_config import EngineConfigValues, render_engine_config

VALUES = EngineConfigValues(
    region="eu-west-1",
    root="s3://ironside-results-123456789012-eu-west-1/executions",
    default_queue_arn="arn:aws:batch:eu-west-1:123456789012:job-queue/ironside-default",
    priority_queue_arn="arn:aws:batch:eu-west-1:123456789012:job-queue/ironside-priority",
    scripts_bucket="ironside-scripts-123456789012-eu-west-1",
    jobs_log_group="/ironside/batch/jobs",
    docker_hub_mirror="123456789012.dkr.ecr.eu-west-1.amazonaws.com/ironside-docker-hub",
    ecr_public_mirror="123456789012.dkr.ecr.eu-west-1.amazonaws.com/ironside-ecr-public",
    job_definition_prefix="ironside",
    default_job_role_arn="arn:aws:iam::123456789012:role/job",
    allowed_job_role_arns=("arn:aws:iam::123456789012:role/other",),
)


def test_config_parses_with_the_database_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyhocon = pytest.importorskip("pyhocon")
    path = tmp_path / "ironside.conf"
    path.write_text(render_engine_config(VALUES))
    url = "mysql+pymysql://ironside:p%40ss@db.example:3306/ironside"
    monkeypatch.setenv("IRONSIDE_DATABASE_URL", url)
    tree = pyhocon.ConfigFactory.parse_file(str(path))
    assert tree.get("database.url") == url
    config = tree.get("backend.providers.AWSBatch.config")
    assert config.get("root") == VALUES.root
    assert config.get("default-runtime-attributes.queueArn") == VALUES.default_queue_arn
    assert config.get("default-runtime-attributes.scriptBucketName") == VALUES.scripts_bucket
    assert config.get("docker-mirror.dockerhub.address") == VALUES.docker_hub_mirror
    assert config.get("allowed-job-role-arns") == [
        VALUES.default_job_role_arn,
        *VALUES.allowed_job_role_arns,
    ]
    assert tree.get("webservice.port") == 8000


def test_engine_loads_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = pytest.importorskip("ironside.config")
    path = tmp_path / "ironside.conf"
    path.write_text(render_engine_config(VALUES))
    monkeypatch.setenv("IRONSIDE_DATABASE_URL", "sqlite:///x.sqlite")
    settings = config.load_settings(str(path))
    assert settings.database_url == "sqlite:///x.sqlite"


def test_the_batch_backend_reads_every_value(tmp_path: Path) -> None:
    """The AWS Batch backend's own parser sees the kit's job roles, queue and buckets."""
    pyhocon = pytest.importorskip("pyhocon")
    settings = pytest.importorskip("ironside.backends.aws_batch.settings")
    job_definitions = pytest.importorskip("ironside.backends.aws_batch.job_definitions")
    path = tmp_path / "ironside.conf"
    path.write_text(render_engine_config(VALUES))
    tree = pyhocon.ConfigFactory.parse_string(path.read_text(), resolve=False)
    parsed = settings.parse_settings(
        tree.get("backend.providers.AWSBatch.config").as_plain_ordered_dict()
    )
    assert parsed.default_job_role_arn == VALUES.default_job_role_arn
    assert parsed.allowed_job_role_arns == (
        VALUES.default_job_role_arn,
        *VALUES.allowed_job_role_arns,
    )
    assert parsed.queue_arn == VALUES.default_queue_arn
    assert parsed.script_bucket == VALUES.scripts_bucket
    assert parsed.root == VALUES.root
    assert parsed.docker_mirror.address == VALUES.docker_hub_mirror
    # The host paths the launch template installs are the engine's mount constants.
    assert job_definitions.FETCH_AND_RUN == "/usr/local/bin/fetch_and_run.sh"
    assert job_definitions.AWS_CLI == "/usr/local/aws-cli"
    attributes = pytest.importorskip("ironside.backends.aws_batch.runtime_attributes")
    assert attributes.LOCAL_DISK_PATH == SCRATCH_MOUNT


def test_the_engine_role_allows_the_engine_s_job_definition_names() -> None:
    job_definitions = pytest.importorskip("ironside.backends.aws_batch.job_definitions")
    from stacks.roles.engine_role import ENGINE_JOB_DEFINITION_PREFIX

    spec = job_definitions.DefinitionSpec(
        image="ubuntu:22.04", job_role_arn=None, mounts=(), ulimits=(), shared_memory_mib=0,
        log_group="/x", retry_attempts=1, evaluate_on_exit=(), timeout_seconds=60,
    )  # fmt: skip
    assert spec.name().startswith(f"{ENGINE_JOB_DEFINITION_PREFIX}-")
