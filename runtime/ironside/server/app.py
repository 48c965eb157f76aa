"""The FastAPI application: routers, Cromwell-shaped errors, auth and body-size middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from ironside import __version__
from ironside.server.engine_port import EnginePort
from ironside.server.metadata_cache import MetadataCache
from ironside.server.middleware import BearerAuth, BodyLimit, HostOriginGuard
from ironside.server.openapi_docs import install_error_responses
from ironside.server.responses import install_error_handlers
from ironside.server.routes import callcaching, engine_info, womtool, workflows
from ironside.server.routes.docs import install_docs
from ironside.server.settings import ServerSettings


def create_app(
    settings: ServerSettings,
    engine: EnginePort,
    s3_read: Callable[[str, int], bytes] | None = None,
) -> FastAPI:
    """The REST server over ``engine``; the engine is started and stopped with the app.
    ``s3_read``: how submissions' ``s3://`` imports are read (None: refused)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(engine.start)
        try:
            yield
        finally:
            await run_in_threadpool(engine.stop)

    app = FastAPI(
        title="Ironside",
        description="Cromwell's REST API, served by the Ironside WDL engine.",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # install_docs: the same pages with local assets (no CDN)
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.s3_read = s3_read
    app.state.metadata_cache = MetadataCache(settings.metadata_cache_bytes)
    install_error_handlers(app)
    # Cromwell answers /api/workflows/{version}/... for any version: v1 is documented,
    # every other value is served by the same routes
    for prefix, documented in (("/api/workflows/v1", True), ("/api/workflows/{version}", False)):
        app.include_router(callcaching.router, prefix=prefix, include_in_schema=documented)
        app.include_router(workflows.router, prefix=prefix, include_in_schema=documented)
    for prefix, documented in (("/api/womtool/v1", True), ("/api/womtool/{version}", False)):
        app.include_router(womtool.router, prefix=prefix, include_in_schema=documented)
    app.include_router(engine_info.router)
    install_docs(app)
    install_error_responses(app)
    if settings.max_request_bytes:
        app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    if settings.auth_token:
        app.add_middleware(BearerAuth, token=settings.auth_token)
    if settings.allowed_origins:  # CORS stays closed unless configured
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(HostOriginGuard, settings=settings)  # outermost: runs first
    return app
