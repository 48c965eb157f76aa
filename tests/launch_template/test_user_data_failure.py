"""A failing user data step takes the host out of service (run with stub system commands)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from launch_template.user_data import UserDataOptions, shell_parts

CLI_SHA256 = "ab" * 32

STUBS = ("systemctl", "shutdown", "poweroff", "logger", "sleep", "flaky")


def _prelude() -> str:
    """The shipped prelude: the ECS part up to its first own command."""
    _, ecs_part = shell_parts(
        UserDataOptions("s3://b/k.zip", "us-east-1", "g", "s3://b/cli.zip", CLI_SHA256)
    )[0]
    return ecs_part[: ecs_part.index("mkdir -p /etc/ecs")]


def _run(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    for name in STUBS:
        stub = bindir / name
        stub.write_text(f'#!/bin/bash\necho "{name} $*" >> {calls}\n')
        stub.chmod(0o755)
    flaky = bindir / "flaky"
    flaky.write_text(
        f'#!/bin/bash\necho "flaky $*" >> {calls}\n[ "$(grep -c "^flaky" {calls})" -ge "$1" ]\n'
    )
    script = tmp_path / "part.sh"
    script.write_text(_prelude() + body)
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "IRONSIDE_UNHEALTHY_MARKER": str(tmp_path / "unhealthy"),
        "IRONSIDE_CONSOLE": str(tmp_path / "console"),
    }
    result = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    return result, calls.read_text() if calls.exists() else ""


@pytest.mark.parametrize(
    "body",
    [
        "echo step-one\nfalse\necho never\n",
        "step() {\n  false\n  echo never\n}\necho step-one\nstep\n",
        'echo step-one\nvalue=$(false)\necho "never $value"\n',
    ],
    ids=["top-level", "in-a-function", "in-a-command-substitution"],
)
def test_a_failing_step_stops_ecs_and_powers_off(tmp_path: Path, body: str) -> None:
    result, calls = _run(tmp_path, body)
    assert result.returncode == 1
    assert result.stdout == "step-one\n"
    assert "ironside: host setup failed in ecs_agent.sh line" in result.stderr
    assert "taking this host out of service" in (tmp_path / "unhealthy").read_text()
    assert "host setup failed" in (tmp_path / "console").read_text()
    lines = calls.splitlines()
    assert "systemctl mask ecs.service" in lines
    assert "systemctl stop --no-block ecs.service" in lines
    assert lines[-1] == "shutdown -h +1 ironside host setup failed"


def test_a_successful_part_leaves_the_host_alone(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, "echo fine\n")
    assert (result.returncode, result.stdout) == (0, "fine\n")
    assert calls == ""
    assert not (tmp_path / "unhealthy").exists()


def test_retry_tries_five_times_with_growing_sleeps(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, "retry flaky 3\necho recovered\n")
    assert (result.returncode, result.stdout) == (0, "recovered\n")
    assert [line for line in calls.splitlines() if line.startswith("sleep")] == [
        "sleep 5",
        "sleep 10",
    ]


def test_retry_gives_up_after_five_tries_and_fails_the_part(tmp_path: Path) -> None:
    result, calls = _run(tmp_path, "retry flaky 9\n")
    assert result.returncode == 1
    assert calls.count("flaky 9") == 5
    assert "shutdown -h +1 ironside host setup failed" in calls


def _docker_hub(tmp_path: Path, secret: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the shipped configure_docker_hub with a stub AWS CLI answering ``secret``."""
    options = UserDataOptions(
        "s3://b/k.zip",
        "us-east-1",
        "g",
        "s3://b/cli.zip",
        CLI_SHA256,
        docker_hub_secret_arn="arn:x",
    )
    _, setup = shell_parts(options)[1]
    start = setup.index("configure_docker_hub() {")
    function = setup[start : setup.index("\n}\n", start) + 3]
    aws = tmp_path / "aws"
    (tmp_path / "secret").write_text(secret + "\n")
    aws.write_text(f'#!/bin/bash\necho "$*" > {tmp_path}/aws-args\ncat {tmp_path}/secret\n')
    aws.chmod(0o755)
    ecs_config = tmp_path / "ecs.config"
    ecs_config.write_text("ECS_CLUSTER=batch\n")
    script = (
        'set -Eeuo pipefail\nretry() { "$@"; }\n'
        f"AWS={aws}\nIRONSIDE_ECS_CONFIG={ecs_config}\n"
        "IRONSIDE_DOCKER_HUB_SECRET_ARN=arn:x\n" + function + "configure_docker_hub\n"
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    return result, ecs_config


def test_docker_hub_secret_goes_into_the_ecs_agent_auth(tmp_path: Path) -> None:
    result, ecs_config = _docker_hub(tmp_path, "dXNlcjp0b2tlbg==")
    assert result.returncode == 0, result.stderr
    assert ecs_config.read_text().splitlines() == [
        "ECS_CLUSTER=batch",
        "ECS_ENGINE_AUTH_TYPE=dockercfg",
        'ECS_ENGINE_AUTH_DATA={"https://index.docker.io/v1/":{"auth":"dXNlcjp0b2tlbg==","email":""}}',
    ]
    assert oct(ecs_config.stat().st_mode & 0o777) == "0o600"
    args = (tmp_path / "aws-args").read_text()
    assert "secretsmanager get-secret-value --secret-id arn:x" in args
    assert "dXNlcjp0b2tlbg==" not in result.stdout + result.stderr


def test_a_malformed_docker_hub_secret_fails_without_echoing_it(tmp_path: Path) -> None:
    result, ecs_config = _docker_hub(tmp_path, 'user:"pass')
    assert result.returncode != 0
    assert "must hold base64 of user:token" in result.stderr
    assert "pass" not in result.stderr
    assert ecs_config.read_text() == "ECS_CLUSTER=batch\n"


def test_the_pull_through_cache_json_secret_is_accepted(tmp_path: Path) -> None:
    """The ``ecr-pullthroughcache/`` secret format ECR requires works on the hosts too."""
    result, ecs_config = _docker_hub(tmp_path, '{"username": "user", "accessToken": "token"}')
    assert result.returncode == 0, result.stderr
    assert '{"auth":"dXNlcjp0b2tlbg==","email":""}' in ecs_config.read_text()
    assert "token" not in result.stdout + result.stderr


def test_a_pull_through_json_secret_without_a_token_fails_without_echoing_it(
    tmp_path: Path,
) -> None:
    result, ecs_config = _docker_hub(tmp_path, '{"username": "user", "password": "hunter2"}')
    assert result.returncode != 0
    assert "must hold base64 of user:token" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert ecs_config.read_text() == "ECS_CLUSTER=batch\n"
