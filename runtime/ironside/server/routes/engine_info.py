"""``/engine/v1/version`` and ``/engine/v1/status``."""

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
