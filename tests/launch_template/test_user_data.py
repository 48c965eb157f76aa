"""The Batch host user data: MIME structure, shell parts that lint, the settings it carries."""

from __future__ import annotations

import email
import json
import re
import shutil
import subprocess
from email.message import Message
from pathlib import Path

import pytest

from launch_template.host_assets.ebs_autoscale.config import ConfigError, build_config
from launch_template.user_data import (
    ECS_AGENT_SETTINGS,
    HOST_ASSETS_DIR,
    USER_DATA_LIMIT,
    UserDataOptions,
    build_user_data,
)

TOKEN_URL = "s3://${Token[TOKEN.101]}/${Token[TOKEN.102]}.zip"
CLI_URL = "s3://${Token[TOKEN.101]}/${Token[TOKEN.103]}.zip"
CLI_SHA256 = "ab" * 32
OPTIONS = UserDataOptions(
    host_assets_url=TOKEN_URL,
    region="${Token[AWS.Region.7]}",
    host_log_group="/ironside/hosts",
    aws_cli_url=CLI_URL,
    aws_cli_sha256=CLI_SHA256,
    docker_hub_secret_arn="arn:aws:secretsmanager:us-east-1:111122223333:secret:dockerhub-AbCdEf",
    autoscale={"limits": {"max_volume_count": 8}, "volume": {"kms_key_id": "${Token[KEY.9]}"}},
)


def _parts(user_data: str) -> list[Message]:
    message = email.message_from_string(user_data)
    assert message.is_multipart()
    assert message.get_content_type() == "multipart/mixed"
    assert message["MIME-Version"] == "1.0"
    return [part for part in message.walk() if not part.is_multipart()]


def _scripts(user_data: str) -> list[str]:
    parts = _parts(user_data)
    assert all(p.get_content_type() == "text/x-shellscript" for p in parts)
    payloads = [p.get_payload(decode=True) for p in parts]
    assert all(isinstance(payload, bytes) for payload in payloads)
    return [payload.decode("ascii") for payload in payloads if isinstance(payload, bytes)]


def test_user_data_is_mime_multipart_with_two_shell_parts() -> None:
    parts = _parts(build_user_data(OPTIONS))
    names = [p.get_filename() for p in parts]
    assert names == ["ironside-ecs-agent.sh", "ironside-host-setup.sh"]


def test_user_data_is_deterministic_and_small() -> None:
    first = build_user_data(OPTIONS)
    assert first == build_user_data(OPTIONS)
    assert len(first.encode()) < USER_DATA_LIMIT // 2


def test_ecs_agent_settings_are_appended_to_ecs_config() -> None:
    ecs_part = _scripts(build_user_data(OPTIONS))[0]
    assert ">>/etc/ecs/ecs.config" in ecs_part
    for key, value in ECS_AGENT_SETTINGS.items():
        assert f"\n{key}={value}\n" in ecs_part
    assert "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true" in ecs_part
    assert "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached" in ecs_part


def test_options_are_interpolated_as_text_tokens_included() -> None:
    setup = _scripts(build_user_data(OPTIONS))[1]
    assert f"IRONSIDE_HOST_ASSETS_URL='{TOKEN_URL}'" in setup
    assert "IRONSIDE_REGION='${Token[AWS.Region.7]}'" in setup
    assert "IRONSIDE_HOST_LOG_GROUP=/ironside/hosts" in setup
    assert "IRONSIDE_SCRATCH_MOUNT=/cromwell_root" in setup
    assert "secret:dockerhub-AbCdEf" in setup
    assert "ECS_ENGINE_AUTH_TYPE=dockercfg" in setup
    assert '{"https://index.docker.io/v1/":{"auth":"%s","email":""}}' in setup
    assert f"IRONSIDE_AWS_CLI_URL='{CLI_URL}'" in setup
    assert f"IRONSIDE_AWS_CLI_SHA256={CLI_SHA256}" in setup
    assert 'IRONSIDE_AWS_CLI_DIR="$tmp/aws-cli"' in setup


#: What a boot may fetch: the kit's assets from S3 and packages from the distribution's
#: repositories (S3 too); a URL in a script is only the Docker Hub auth key.
ALLOWED_URLS = {"https://index.docker.io/v1/"}
URL = re.compile(r"\b(?:https?|ftp)://[^\s\"'}]+")


def _commands(script: str) -> list[str]:
    """The script's lines with continuations joined, comments dropped."""
    joined = script.replace("\\\n", " ")
    return [line for line in joined.splitlines() if not line.lstrip().startswith("#")]


def test_boot_scripts_download_nothing_from_the_internet() -> None:
    texts = {f"part {i}": t for i, t in enumerate(_scripts(build_user_data(OPTIONS)))}
    texts |= {p.name: p.read_text() for p in HOST_ASSETS_DIR.glob("*.sh")}
    pip_installs = 0
    for name, text in texts.items():
        for line in _commands(text):
            assert set(URL.findall(line)) <= ALLOWED_URLS, (name, line)
            assert not re.search(r"\b(curl|wget)\b", line), (name, line)
            if re.search(r"-m pip\b|\bpip3? (install|download)", line):
                pip_installs += 1
                assert "--no-index" in line and "--require-hashes" in line, (name, line)
    assert pip_installs == 1  # install_wheelhouse.sh's


def test_autoscale_config_embedded_is_valid_for_the_daemon() -> None:
    setup = _scripts(build_user_data(OPTIONS))[1]
    start = setup.index("<<'IRONSIDE_JSON_EOF'\n") + len("<<'IRONSIDE_JSON_EOF'\n")
    embedded = json.loads(setup[start : setup.index("\nIRONSIDE_JSON_EOF", start)])
    config = build_config(embedded)
    assert config.mountpoint == "/cromwell_root"
    assert config.limits.max_volume_count == 8
    assert config.volume.kms_key_id == "${Token[KEY.9]}"


def test_scratch_mount_reaches_the_daemon_config() -> None:
    options = UserDataOptions(
        "s3://b/k.zip", "eu-west-1", "g", "s3://b/cli.zip", CLI_SHA256, scratch_mount="/scratch"
    )
    setup = _scripts(build_user_data(options))[1]
    assert '"mountpoint": "/scratch"' in setup


def test_no_docker_hub_secret_means_empty_arn() -> None:
    options = UserDataOptions("s3://b/k.zip", "eu-west-1", "g", "s3://b/cli.zip", CLI_SHA256)
    assert "IRONSIDE_DOCKER_HUB_SECRET_ARN=''" in _scripts(build_user_data(options))[1]


def test_unknown_autoscale_key_is_rejected_at_synth() -> None:
    options = UserDataOptions(
        "s3://b/k.zip", "eu-west-1", "g", "s3://b/cli.zip", CLI_SHA256, autoscale={"mount": "/x"}
    )
    with pytest.raises(ConfigError, match="mount"):
        build_user_data(options)


def test_every_part_fails_closed() -> None:
    for script in _scripts(build_user_data(OPTIONS)):
        assert script.startswith("#!/bin/bash\n")
        assert "set -Eeuo pipefail" in script
        assert "trap 'ironside_fail $? $LINENO' ERR" in script
        assert "systemctl mask ecs.service" in script
        assert "shutdown -h" in script


# What the tokens resolve to at deploy time (shellcheck flags literal "${...}" in quotes).
RESOLVED = UserDataOptions(
    host_assets_url="s3://cdk-hnb659fds-assets-111122223333-us-east-1/0a1b2c.zip",
    region="us-east-1",
    host_log_group="/ironside/hosts",
    aws_cli_url="s3://cdk-hnb659fds-assets-111122223333-us-east-1/3d4e5f.zip",
    aws_cli_sha256=CLI_SHA256,
    docker_hub_secret_arn="arn:aws:secretsmanager:us-east-1:111122223333:secret:dockerhub-AbCdEf",
)


def _shell_files(tmp_path: Path) -> list[Path]:
    files = []
    for index, script in enumerate(_scripts(build_user_data(RESOLVED))):
        path = tmp_path / f"part{index}.sh"
        path.write_text(script)
        files.append(path)
    return files + sorted(HOST_ASSETS_DIR.glob("*.sh"))


def test_shell_parts_and_host_scripts_pass_bash_n(tmp_path: Path) -> None:
    files = _shell_files(tmp_path)
    assert len(files) == 6
    for path in files:
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, (path, result.stderr)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shell_parts_and_host_scripts_pass_shellcheck(tmp_path: Path) -> None:
    files = [str(p) for p in _shell_files(tmp_path)]
    result = subprocess.run(["shellcheck", "-s", "bash", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_host_assets_dir_holds_what_install_sh_installs() -> None:
    names = {p.name for p in HOST_ASSETS_DIR.iterdir()}
    expected = {
        "install.sh",
        "fetch_and_run.sh",
        "ironside-ebs-autoscale.service",
        "cloudwatch-agent.json",
        "ebs_autoscale",
    }
    assert expected <= names
    json.loads((HOST_ASSETS_DIR / "cloudwatch-agent.json").read_text())


def test_the_aws_cli_kind_reaches_install_sh_and_is_checked() -> None:
    assert "IRONSIDE_AWS_CLI_KIND=wheelhouse" in _scripts(build_user_data(OPTIONS))[1]
    bundle = UserDataOptions(
        "s3://b/k.zip", "eu-west-1", "g", "s3://b/v2.zip", CLI_SHA256, "bundle"
    )
    setup = _scripts(build_user_data(bundle))[1]
    assert "IRONSIDE_AWS_CLI_KIND=bundle" in setup
    assert 'IRONSIDE_AWS_CLI_KIND="$IRONSIDE_AWS_CLI_KIND"' in setup
    with pytest.raises(ValueError, match="wheelhouse, bundle"):
        build_user_data(UserDataOptions("s3://b/k.zip", "r", "g", "s3://b/c.zip", CLI_SHA256, "v3"))
