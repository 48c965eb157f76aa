"""The rollout scripts, run with bash against a stand-in AWS CLI (tests/pipeline/aws_stub.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.rollout import ENGINE_SCRIPT, LAUNCH_TEMPLATE_SCRIPT

REPO = Path(__file__).resolve().parents[2]
STUB = Path(__file__).with_name("aws_stub.py")
SPOT = "arn:aws:batch:eu-west-1:111111111111:compute-environment/spot"
ON_DEMAND = "arn:aws:batch:eu-west-1:111111111111:compute-environment/on-demand"


@dataclass
class Run:
    """One script run: exit code, output, and the AWS CLI calls it made."""

    returncode: int
    output: str
    calls: list[list[str]]

    def commands(self) -> list[str]:
        """``service command`` of each call, in order."""
        return [f"{call[0]} {call[1]}" for call in self.calls]


@pytest.fixture
def run(tmp_path: Path) -> Any:
    """``run(script, state, env) -> Run`` with the stub first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(f'#!/bin/sh\nexec {sys.executable} {STUB} "$@"\n')
    aws.chmod(0o755)

    def go(script: str, state: dict[str, Any], env: dict[str, str]) -> Run:
        (tmp_path / "state.json").write_text(json.dumps(state))
        log = tmp_path / "calls.jsonl"
        log.write_text("")
        environ = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "AWS_STUB_STATE": str(tmp_path / "state.json"),
            "AWS_STUB_LOG": str(log),
            "POLL_SECONDS": "0",
            "PROBE_POLL_SECONDS": "0",
            **env,
        }
        result = subprocess.run(
            ["bash", str(REPO / script)], env=environ, capture_output=True, text=True, timeout=60
        )
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return Run(result.returncode, result.stdout + result.stderr, calls)

    return go


LT_ENV = {
    "LAUNCH_TEMPLATE_ID": "lt-0123456789abcdef0",
    "LAUNCH_TEMPLATE_VERSION": "4",
    "COMPUTE_ENVIRONMENT_ARNS": f"{SPOT},{ON_DEMAND}",
}


def environments(spot: str, on_demand: str) -> dict[str, Any]:
    """Stub state: two VALID environments on the given launch template versions."""
    return {
        "environments": {
            SPOT: {"version": spot, "statuses": ["VALID"]},
            ON_DEMAND: {"version": on_demand, "statuses": ["VALID"]},
        }
    }


def test_scripts_pass_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed (make setup installs it)")
    scripts = [str(REPO / LAUNCH_TEMPLATE_SCRIPT), str(REPO / ENGINE_SCRIPT)]
    result = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_new_launch_template_version_updates_every_environment(run: Any) -> None:
    # $Default: what a compute environment created without a version reports.
    result = run(LAUNCH_TEMPLATE_SCRIPT, environments("$Default", "3"), LT_ENV)
    assert result.returncode == 0, result.output
    updates = [call for call in result.calls if call[1] == "update-compute-environment"]
    assert [call[call.index("--compute-environment") + 1] for call in updates] == [SPOT, ON_DEMAND]
    spec = json.loads(updates[0][updates[0].index("--compute-resources") + 1])
    assert spec == {"launchTemplate": {"launchTemplateId": "lt-0123456789abcdef0", "version": "4"}}
    assert f"{SPOT}: VALID" in result.output  # waited for the infrastructure update


def test_environments_on_the_version_are_left_alone(run: Any) -> None:
    result = run(LAUNCH_TEMPLATE_SCRIPT, environments("4", "4"), LT_ENV)
    assert result.returncode == 0, result.output
    assert "batch update-compute-environment" not in result.commands()
    assert result.output.count("already on launch template version 4") == 2


def test_invalid_environment_fails_the_step(run: Any) -> None:
    state = environments("3", "4")
    state["environments"][SPOT].update(statuses=["INVALID"], reason="launch template not found")
    result = run(LAUNCH_TEMPLATE_SCRIPT, state, LT_ENV)
    assert result.returncode != 0
    assert f"{SPOT}: INVALID: launch template not found" in result.output
    assert "batch update-compute-environment" not in result.commands()


def test_missing_output_variable_fails_the_step(run: Any) -> None:
    env = {k: v for k, v in LT_ENV.items() if k != "LAUNCH_TEMPLATE_VERSION"}
    result = run(LAUNCH_TEMPLATE_SCRIPT, environments("3", "3"), env)
    assert result.returncode != 0
    assert "LAUNCH_TEMPLATE_VERSION is not set" in result.output
    assert result.calls == []


ENGINE_ENV = {"ENGINE_ASG_NAME": "ironside-engine", "ENGINE_PORT": "8000"}


def engine_state(**overrides: Any) -> dict[str, Any]:
    """Stub state: a refresh that succeeds and an engine that answers at the second probe."""
    state: dict[str, Any] = {
        "refresh": {"id": "refresh-1", "statuses": ["Pending", "InProgress", "Successful"]},
        "instances": "i-0aaa",
        "invocations": ["InProgress", "Failed", "Success"],
    }
    state.update(overrides)
    return state


def test_engine_refresh_skips_matching_then_waits_for_status(run: Any) -> None:
    result = run(ENGINE_SCRIPT, engine_state(), ENGINE_ENV)
    assert result.returncode == 0, result.output
    (start,) = [call for call in result.calls if call[1] == "start-instance-refresh"]
    assert start[start.index("--auto-scaling-group-name") + 1] == "ironside-engine"
    preferences = json.loads(start[start.index("--preferences") + 1])
    assert preferences["SkipMatching"] is True
    assert preferences["MinHealthyPercentage"] == 0  # never two engines on one database
    commands = result.commands()
    assert commands.index("autoscaling start-instance-refresh") < commands.index("ssm send-command")
    sends = [call for call in result.calls if call[1] == "send-command"]
    assert len(sends) == 2  # the first probe failed, the second succeeded
    parameters = json.loads(sends[0][sends[0].index("--parameters") + 1])
    assert parameters == {"commands": ["curl -fsS -m 10 http://127.0.0.1:8000/engine/v1/status"]}
    assert sends[0][sends[0].index("--instance-ids") + 1] == "i-0aaa"
    assert "engine healthy on i-0aaa" in result.output


def test_engine_waits_for_a_refresh_already_running(run: Any) -> None:
    state = engine_state()
    state["refresh"]["active"] = "refresh-0"
    result = run(ENGINE_SCRIPT, state, ENGINE_ENV)
    assert result.returncode == 0, result.output
    assert "waiting for instance refresh refresh-0" in result.output


def test_failed_refresh_fails_the_step(run: Any) -> None:
    state = engine_state(refresh={"id": "refresh-1", "statuses": ["InProgress", "Failed"]})
    result = run(ENGINE_SCRIPT, state, ENGINE_ENV)
    assert result.returncode != 0
    assert "instance refresh refresh-1: Failed" in result.output
    assert "ssm send-command" not in result.commands()


def test_unhealthy_engine_fails_the_step(run: Any) -> None:
    state = engine_state(invocations=["Failed"])
    result = run(ENGINE_SCRIPT, state, {**ENGINE_ENV, "HEALTH_TIMEOUT_SECONDS": "0"})
    assert result.returncode != 0
    assert "engine not healthy on: i-0aaa" in result.output
