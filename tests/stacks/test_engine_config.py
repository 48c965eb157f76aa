"""The HOCON the engine stack writes is read by the engine as intended."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.batch import SCRATCH_MOUNT
from stacks.constructs.engine_config import EngineConfigValues, render_engine_config

REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
VALUES = EngineConfigValues(
    root="s3://ironside-results-123456789012-eu-west-1/executions",
    default_queue_arn="arn:aws:batch:eu-west-1:123456789012:job-queue/ironside-default",
    priority_queue_arn="arn:aws:batch:eu-west-1:123456789012:job-queue/ironside-priority",
    scripts_bucket="ironside-scripts-123456789012-eu-west-1",
    jobs_log_group="/ironside/batch/jobs",
    mirrors={
        "dockerhub": f"{REGISTRY}/ironside-docker-hub",
        "ecr-public": f"{REGISTRY}/ironside-ecr-public",
        "quay": f"{REGISTRY}/ironside-quay",
    },
    gpu_queue_arn="arn:aws:batch:eu-west-1:123456789012:job-queue/ironside-gpu",
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
    assert config.get("docker-mirror.dockerhub.address") == VALUES.mirrors["dockerhub"]
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
    assert parsed.docker_mirror.address == VALUES.mirrors["dockerhub"]
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


class _Recording(dict):  # type: ignore[type-arg]
    """A config subtree that records which of its keys the parser looked at."""

    def __init__(self, data: dict, seen: set[str], path: str = "") -> None:  # type: ignore[type-arg]
        super().__init__(
            (k, _Recording(v, seen, f"{path}{k}.") if isinstance(v, dict) else v)
            for k, v in data.items()
        )
        self.seen, self.path = seen, path

    def __contains__(self, key: object) -> bool:
        self.seen.add(f"{self.path}{key}")
        return super().__contains__(key)

    def __getitem__(self, key: str) -> object:
        self.seen.add(f"{self.path}{key}")
        return super().__getitem__(key)

    def get(self, key: str, default: object = None) -> object:
        self.seen.add(f"{self.path}{key}")
        return super().get(key, default)


def _leaves(tree: dict, path: str = "") -> list[str]:  # type: ignore[type-arg]
    out: list[str] = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out += _leaves(value, f"{path}{key}.")
        else:
            out.append(f"{path}{key}")
    return out


@pytest.mark.parametrize("gpu", [True, False])
def test_every_key_the_kit_writes_is_one_the_engine_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gpu: bool
) -> None:
    """13.5: the engine's loader reports no ignored key, and the AWS Batch backend's
    parsers (settings and runtime attributes) read every leaf of the provider block."""
    from dataclasses import replace

    config = pytest.importorskip("ironside.config")
    batch_settings = pytest.importorskip("ironside.backends.aws_batch.settings")
    attributes = pytest.importorskip("ironside.backends.aws_batch.runtime_attributes")
    values = VALUES if gpu else replace(VALUES, gpu_queue_arn=None, mirrors={})
    path = tmp_path / "ironside.conf"
    path.write_text(render_engine_config(values))
    monkeypatch.setenv("IRONSIDE_DATABASE_URL", "sqlite:///x.sqlite")
    loaded = config.load_settings(str(path))
    assert loaded.warnings == ()
    raw = loaded.provider("AWSBatch").raw
    seen: set[str] = set()
    parsed = batch_settings.parse_settings(_Recording(raw, seen))
    defaults = dict(parsed.default_runtime_attributes)
    runtime_keys = set(attributes._PARSERS) | set(attributes.DEFAULTS)
    unread = [
        leaf
        for leaf in _leaves(raw)
        if leaf not in seen
        and not (
            leaf.startswith("default-runtime-attributes.") and leaf.split(".", 1)[1] in runtime_keys
        )
    ]
    assert unread == []
    assert all(k in runtime_keys or f"default-runtime-attributes.{k}" in seen for k in defaults)
    # GPU tasks go to the GPU queue, others to the default queue.
    base = {"queueArn": parsed.queue_arn, **defaults}
    gpu_task = attributes.parse_runtime({"docker": "ubuntu", "gpuCount": 1}, base)
    cpu_task = attributes.parse_runtime({"docker": "ubuntu"}, base)
    assert gpu_task.queue_arn == (values.gpu_queue_arn or values.default_queue_arn)
    assert cpu_task.queue_arn == values.default_queue_arn


def test_each_mirror_maps_its_registry() -> None:
    pyhocon = pytest.importorskip("pyhocon")
    settings = pytest.importorskip("ironside.backends.aws_batch.settings")
    images = pytest.importorskip("ironside.backends.aws_batch.images")
    tree = pyhocon.ConfigFactory.parse_string(render_engine_config(VALUES), resolve=False)
    mirror = settings.parse_settings(
        tree.get("backend.providers.AWSBatch.config").as_plain_ordered_dict()
    ).docker_mirror
    assert images.pulled_image("ubuntu:24.04", mirror) == (
        f"{REGISTRY}/ironside-docker-hub/library/ubuntu:24.04"
    )
    assert images.pulled_image("quay.io/biocontainers/samtools:1.19", mirror) == (
        f"{REGISTRY}/ironside-quay/biocontainers/samtools:1.19"
    )
    assert images.pulled_image("public.ecr.aws/lts/ubuntu:22.04", mirror) == (
        f"{REGISTRY}/ironside-ecr-public/lts/ubuntu:22.04"
    )
    assert images.pulled_image("ghcr.io/x/y:1", mirror) == "ghcr.io/x/y:1"
    bare = settings.parse_settings(
        pyhocon.ConfigFactory.parse_string(render_engine_config(replace_mirrors({})), resolve=False)
        .get("backend.providers.AWSBatch.config")
        .as_plain_ordered_dict()
    ).docker_mirror
    assert images.pulled_image("ubuntu:24.04", bare) == "ubuntu:24.04"


def replace_mirrors(mirrors: dict[str, str]) -> EngineConfigValues:
    from dataclasses import replace

    return replace(VALUES, mirrors=mirrors)
