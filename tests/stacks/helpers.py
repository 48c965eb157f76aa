"""Small helpers over CloudFormation JSON."""

from __future__ import annotations

from typing import Any


def flatten(value: Any) -> str:
    """The literal text of a value built with ``Fn::Join`` / ``Fn::Base64`` (tokens dropped)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(flatten(item) for item in value)
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(flatten(part) for part in parts)
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            return sub if isinstance(sub, str) else str(sub[0])
        if "Fn::Base64" in value:
            return flatten(value["Fn::Base64"])
        return ""
    return str(value)


def statements(policy_resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """All statements of the given AWS::IAM::Policy resources."""
    found: list[dict[str, Any]] = []
    for resource in policy_resources.values():
        found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    """A statement's actions as a list."""
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)
