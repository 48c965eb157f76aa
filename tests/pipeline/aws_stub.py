"""A stand-in for the AWS CLI, enough for the rollout scripts, driven by a JSON state file.

The scripts only call a handful of commands with ``--query ... --output text``; this stub
answers them from ``$AWS_STUB_STATE`` (status lists advance one entry per call, the last
one sticks), records every call in ``$AWS_STUB_LOG`` (one JSON list per line) and applies
``update-compute-environment`` to the state, like the service would.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def _arg(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1] if flag in argv else ""


def _advance(statuses: list[str]) -> str:
    return statuses.pop(0) if len(statuses) > 1 else statuses[0]


def _batch(command: str, argv: list[str], state: dict[str, Any]) -> str:
    environment = state["environments"][
        _arg(argv, "--compute-environment") or _arg(argv, "--compute-environments")
    ]
    if command == "update-compute-environment":
        spec = json.loads(_arg(argv, "--compute-resources"))
        environment["version"] = spec["launchTemplate"]["version"]
        environment["statuses"] = ["UPDATING", "VALID"]
        return "{}"
    query = _arg(argv, "--query")
    if query.endswith(".status"):
        return _advance(environment["statuses"])
    if query.endswith(".statusReason"):
        return str(environment.get("reason", ""))
    return str(environment["version"])


def _autoscaling(command: str, argv: list[str], state: dict[str, Any]) -> str:
    if command == "start-instance-refresh":
        return str(state["refresh"]["id"])
    if command == "describe-auto-scaling-groups":
        return str(state["instances"])
    if "--instance-refresh-ids" in argv:
        return _advance(state["refresh"]["statuses"])
    return str(state["refresh"].get("active", "None"))


def _ssm(command: str, argv: list[str], state: dict[str, Any]) -> str:
    if command == "send-command":
        return "command-1"
    return _advance(state["invocations"])


def main(argv: list[str]) -> int:
    """Answer one CLI call; exit 255 (like the CLI) for an unknown service."""
    state_path = Path(os.environ["AWS_STUB_STATE"])
    state = json.loads(state_path.read_text())
    with open(os.environ["AWS_STUB_LOG"], "a") as log:
        log.write(json.dumps(argv) + "\n")
    service, command = argv[0], argv[1]
    handlers = {"batch": _batch, "autoscaling": _autoscaling, "ssm": _ssm}
    if service not in handlers:
        print(f"aws stub: unknown service {service}", file=sys.stderr)
        return 255
    print(handlers[service](command, argv, state))
    state_path.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
