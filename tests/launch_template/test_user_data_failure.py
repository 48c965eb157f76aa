"""A failing user data step takes the host out of service (run with stub system commands)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from launch_template.user_data import UserDataOptions, shell_parts

STUBS = ("systemctl", "shutdown", "poweroff", "logger", "sleep", "flaky")


def _prelude() -> str:
    """The shipped prelude: the ECS part up to its first own command."""
    _, ecs_part = shell_parts(UserDataOptions("s3://b/k.zip", "us-east-1", "g"))[0]
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
