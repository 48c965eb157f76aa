"""Shared helpers of the routers: the engine and settings of the running app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ironside.server.engine_port import EnginePort
from ironside.server.settings import ServerSettings

T = TypeVar("T")


def engine_of(request: Request) -> EnginePort:
    """The engine the app was created with."""
    engine: EnginePort = request.app.state.engine
    return engine


def settings_of(request: Request) -> ServerSettings:
    """The server settings the app was created with."""
    settings: ServerSettings = request.app.state.settings
    return settings


def s3_read_of(request: Request) -> Callable[[str, int], bytes] | None:
    """How the app reads ``s3://`` imports (the engine's S3 access; None: it cannot)."""
    reader: Callable[[str, int], bytes] | None = request.app.state.s3_read
    return reader


async def blocking(func: Callable[..., T], *args: Any) -> T:
    """Run a blocking engine call in the thread pool."""
    return await run_in_threadpool(func, *args)
