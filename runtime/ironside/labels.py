"""Cromwell's label rules: keys of 1 to 255 characters, string values of at most 255."""

from __future__ import annotations

import json
from typing import Any

from ironside.errors import UserError

MAX_LABEL_LENGTH = 255


def validate_labels(labels: Any, what: str = "labels") -> dict[str, str]:
    """``labels`` checked against Cromwell's rules, or a ``UserError`` naming each bad label."""
    if not isinstance(labels, dict):
        raise UserError(f"{what}: must be a JSON object of string keys and string values")
    problems: list[str] = []
    for key, value in labels.items():
        if not key:
            problems.append("Invalid label: `` can't be empty")
        elif len(key) > MAX_LABEL_LENGTH:
            problems.append(
                f"Invalid label: `{key[:20]}...` is {len(key)} characters. "
                f"The maximum is {MAX_LABEL_LENGTH}."
            )
        if not isinstance(value, str):
            problems.append(f"Invalid label: value of `{key}` must be a string, got {value!r}")
        elif len(value) > MAX_LABEL_LENGTH:
            problems.append(
                f"Invalid label: value of `{key}` is {len(value)} characters. "
                f"The maximum is {MAX_LABEL_LENGTH}."
            )
    if problems:
        raise UserError(f"{what}: " + "; ".join(problems))
    return {str(k): str(v) for k, v in labels.items()}


def parse_labels(text: str | None, what: str = "labels") -> dict[str, str]:
    """Parse a labels JSON document (empty or missing: no labels)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what}: not valid JSON: {exc}") from None
    return validate_labels(value, what)
