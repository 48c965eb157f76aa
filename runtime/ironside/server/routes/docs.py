"""``/docs`` and ``/redoc``: FastAPI's API pages with their assets served by this server.

FastAPI's default pages load Swagger UI and ReDoc from CDNs (and Google Fonts),
so they stay blank on hosts without internet. The assets come from the
``fastapi-offline`` package (swagger-ui 5, which renders the OpenAPI 3.1
document FastAPI produces; swagger-ui 4 cannot) and are mounted under ``ASSETS``.

Auth: the pages, their assets and ``/openapi.json`` follow the server's rule
like every other route (with a bearer token configured, only
``/engine/v1/status`` answers without it). Opening them would publish the
server's whole API surface and version to anyone who can reach the port, and
the page is of no use without ``/openapi.json`` anyway; a browser user sends
the header (a header extension, or a tunnel that adds it).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/docs"
REDOC = "/redoc"
REDIRECT = "/docs/oauth2-redirect"
ASSETS = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Serve ``DOCS`` and ``REDOC`` from local assets (create the app with their URLs None).

    ReDoc still names its footer logo on cdn.redoc.ly: offline, that image alone is missing.
    """
    static = str(files("fastapi_offline").joinpath("static"))
    app.mount(ASSETS, StaticFiles(directory=static), name="swagger-ui-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            oauth2_redirect_url=REDIRECT,
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        )

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route(DOCS, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(REDOC, redoc, methods=["GET"], include_in_schema=False)
    app.add_api_route(REDIRECT, oauth2_redirect, methods=["GET"], include_in_schema=False)
