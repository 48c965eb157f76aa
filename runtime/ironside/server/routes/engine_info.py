"""``/engine/v1/version`` and ``/engine/v1/status``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ironside import __version__
from ironside.server.routes.deps import blocking, engine_of

router = APIRouter(prefix="/engine/v1", tags=["Engine"])


@router.get("/version")
async def version() -> dict[str, str]:
    """The server's version, under Cromwell's key."""
    return {"cromwell": f"ironside-{__version__}"}


@router.get("/status", responses={500: {"description": "a subsystem is not ok"}})
async def status(request: Request) -> JSONResponse:
    """Each subsystem's health, Cromwell's shape: ``{"ok", "systems"}``; 500 when not ok."""
    health: dict[str, Any] = await blocking(engine_of(request).health)
    return JSONResponse(health, status_code=200 if health.get("ok") else 500)
