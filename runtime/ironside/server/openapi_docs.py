"""Request-body schemas for the OpenAPI page (the routes read the raw form themselves)."""

from __future__ import annotations

from typing import Any

_TEXT = {"type": "string", "format": "binary"}


def _multipart(fields: dict[str, str]) -> dict[str, Any]:
    props = {name: {**_TEXT, "description": text} for name, text in fields.items()}
    schema = {"type": "object", "properties": props}
    return {"requestBody": {"content": {"multipart/form-data": {"schema": schema}}}}


SUBMIT_FIELDS = {
    "workflowSource": "the WDL document (or give workflowUrl)",
    "workflowUrl": "URL of the WDL document; only schemes/hosts the server allows",
    "workflowInputs": "inputs JSON object (for /batch: a JSON array of objects)",
    **{f"workflowInputs_{i}": "more inputs, overriding earlier ones" for i in range(2, 6)},
    "workflowOptions": "workflow options JSON object",
    "labels": "labels JSON object (keys 1-255 characters, string values up to 255)",
    "workflowDependencies": "zip of WDL files the workflow imports",
    "workflowOnHold": "true: wait for releaseHold before starting",
    "requestedWorkflowId": "UUID to use as the workflow id (409 if taken)",
    "workflowType": "WDL",
    "workflowTypeVersion": "draft-2, 1.0, 1.1, 1.2 or development",
}
DESCRIBE_FIELDS = {
    k: SUBMIT_FIELDS[k]
    for k in (
        "workflowSource",
        "workflowUrl",
        "workflowInputs",
        "workflowType",
        "workflowTypeVersion",
        "workflowDependencies",
    )
}

SUBMIT = _multipart(SUBMIT_FIELDS)
DESCRIBE = _multipart(DESCRIBE_FIELDS)
QUERY_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": {"type": "string"}},
                    "example": [{"status": "Running"}, {"label": "project:x"}],
                }
            }
        }
    }
}
LABELS_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        }
    }
}
