"""``/engine/v1/version``, ``/engine/v1/status`` and ``/engine/v1/stats``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ironside import __version__
from ironside.server.routes.deps import blocking, engine_of

router = APIRouter(prefix="/engine/v1", tags=["Engine"])


@router.get("/version")
async def version() -> dict[str, str]:
    """The server's version, under Cromwell's key."""
    return {"cromwell": f"ironside-{__version__}"}


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    """``{}`` when the engine answers (Cromwell lists failing subsystems otherwise)."""
    await blocking(engine_of(request).backends)
    return {}


@router.get("/stats")
async def stats(request: Request) -> dict[str, int]:
    """Cromwell's engine stats: running top-level workflows and running jobs."""
    engine = engine_of(request)
    summaries = await blocking(engine.workflows)
    workflows = sum(1 for w in summaries if w.parent_id is None and w.status == "Running")
    return {"workflows": workflows, "jobs": await blocking(engine.running_jobs)}
