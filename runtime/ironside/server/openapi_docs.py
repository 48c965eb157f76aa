"""Request-body schemas for the OpenAPI page (the routes read the raw form themselves)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

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


#: Cromwell's error body, which every error of this server has (never FastAPI's 422 shape)
FAIL_SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
    "required": ["status", "message"],
}
ERRORS = {
    "400": "bad request: what is wrong, and where (also: a Host the server is not named by)",
    "401": "missing or wrong bearer token (when the server has one)",
    "403": "not allowed in the workflow's state, or a cross-origin request",
    "404": "unknown workflow or call",
    "409": "the requested workflow id is taken",
    "413": "request body larger than the server accepts",
    "503": "the engine's database is unavailable; try again shortly",
}


def declare_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation of ``schema`` documents Cromwell's error responses, not FastAPI's 422
    (the middleware and the error handlers can answer any route with them)."""
    fail = {"application/json": {"schema": FAIL_SCHEMA}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code, text in ERRORS.items():
                responses.setdefault(code, {"description": text, "content": fail})
    return schema


def install_error_responses(app: FastAPI) -> None:
    """``app.openapi()`` with ``declare_errors`` applied (computed once, as FastAPI does)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_errors(original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
