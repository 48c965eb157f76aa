"""``POST /api/womtool/v1/describe``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from ironside.errors import UserError
from ironside.server import openapi_docs
from ironside.server.describe import describe
from ironside.server.routes.deps import blocking, s3_read_of, settings_of
from ironside.server.submission import (
    check_sizes,
    read_fields,
    workflow_source,
    workflow_type,
)
from ironside.server.wdl_check import Limits

router = APIRouter(tags=["Womtool"])  # mounted under WOMTOOL_PREFIXES


@router.post("/describe", openapi_extra=openapi_docs.DESCRIBE)
async def describe_workflow(request: Request) -> dict[str, Any]:
    """Womtool's WorkflowDescription: validity, errors, inputs, outputs, runnability."""
    settings = settings_of(request)
    fields = await read_fields(request, settings)
    _kind, version = workflow_type(fields)
    check_sizes(fields, settings.limits)
    source, url, _base = await workflow_source(fields, settings)
    inputs: dict[str, Any] | None = None
    raw = fields.get("workflowInputs")
    if raw is not None and raw.strip():
        try:
            parsed = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"workflowInputs: not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise UserError("workflowInputs: must be a JSON object")
        inputs = parsed
    limits = Limits(
        settings.zip_max_bytes, settings.zip_max_files, settings.import_policy(s3_read_of(request))
    )
    deps = fields.get("workflowDependencies") or None
    return await blocking(describe, source, inputs, deps, limits, not url, version)
