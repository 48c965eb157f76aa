"""The OpenAPI document as the server really answers: request bodies and query parameters
the routes read themselves, and Cromwell's error shape (400, never FastAPI's 422)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ironside.server.query import MULTI_KEYS, SINGLE_KEYS

_TEXT = {"type": "string", "format": "binary"}


def _multipart(fields: dict[str, str]) -> dict[str, Any]:
    props = {name: {**_TEXT, "description": text} for name, text in fields.items()}
    schema = {"type": "object", "properties": props}
    return {"requestBody": {"content": {"multipart/form-data": {"schema": schema}}}}


SUBMIT_FIELDS = {
    "workflowSource": "the WDL document (or give workflowUrl)",
    "workflowUrl": "URL of the WDL document; only schemes/hosts the server allows",
    "workflowInputs": "inputs JSON object (for /batch: a JSON array of objects)",
    **{f"workflowInputs_{i}": "more inputs, overriding earlier ones (any N)" for i in range(2, 6)},
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


def _query_param(name: str, description: str, many: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if many:
        schema = {"type": "array", "items": schema}
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


QUERY_PARAMS = {
    "parameters": [
        *(_query_param(k, f"{k} (may repeat)", many=True) for k in MULTI_KEYS),
        *(_query_param(k, k) for k in SINGLE_KEYS),
        _query_param("additionalQueryResultFields", "labels, parentWorkflowId", many=True),
    ]
}
DIFF_PARAMS = {
    "parameters": [
        {**_query_param(f"{k}{side}", text), "required": k != "index"}
        for side in ("A", "B")
        for k, text in (
            ("workflow", f"workflow id of call {side}"),
            ("call", f"fully qualified name of call {side}"),
            ("index", f"shard index of call {side} (default -1)"),
        )
    ]
}
_ERROR = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
            }
        }
    }
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare Cromwell's 400 (and 404 for a workflow id) instead of 422."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    _errors(operation, "{workflow_id}" in path)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    setattr(app, "openapi", build)  # noqa: B010 - FastAPI's documented override


def _errors(operation: dict[str, Any], has_id: bool) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    responses.setdefault("400", {"description": "Bad request", **_ERROR})
    if has_id:
        responses.setdefault("404", {"description": "Unknown workflow id", **_ERROR})
