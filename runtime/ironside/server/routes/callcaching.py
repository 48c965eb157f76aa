"""``/api/workflows/v1/callcaching/diff``: the hash components that differ between two calls."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, Request

from ironside.callcache.diff import CallSpec
from ironside.errors import UserError
from ironside.server import openapi_docs
from ironside.server.responses import check_workflow_id
from ironside.server.routes.deps import blocking, engine_of

router = APIRouter(prefix="/callcaching", tags=["Call caching"])  # under WORKFLOWS_PREFIXES


@runtime_checkable
class CallCacheDiffPort(Protocol):
    """An engine that can diff the call-cache hashes of two stored calls."""

    def call_cache_diff(self, a: CallSpec, b: CallSpec) -> dict[str, Any]:
        """Cromwell's diff body; UnknownWorkflow / UnknownCall (404) when a side is missing."""
        ...


def _side(request: Request, side: str) -> CallSpec:
    """``workflow<side>``, ``call<side>`` (required) and ``index<side>`` (default -1)."""
    params = request.query_params
    missing = [f"{k}{side}" for k in ("workflow", "call") if not params.get(f"{k}{side}")]
    if missing:
        raise UserError(f"callcaching/diff: missing query parameter(s) {', '.join(missing)}")
    workflow_id = check_workflow_id(params[f"workflow{side}"])
    index_text = params.get(f"index{side}", "-1")
    try:
        index = int(index_text)
    except ValueError:
        raise UserError(f"callcaching/diff: index{side} must be an integer") from None
    return CallSpec(workflow_id, params[f"call{side}"], index)


@router.get("/diff", openapi_extra=openapi_docs.DIFF_PARAMS)
async def diff(request: Request) -> dict[str, Any]:
    """Compare the hashes of call A and call B (Cromwell's query parameters)."""
    a, b = _side(request, "A"), _side(request, "B")
    engine = engine_of(request)
    if not isinstance(engine, CallCacheDiffPort):
        raise UserError("callcaching/diff: this engine keeps no call-cache hashes")
    return await blocking(engine.call_cache_diff, a, b)
