"""Cromwell-shaped error responses and the exception handlers that produce them."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ironside.errors import UnknownWorkflow, UserError

log = logging.getLogger(__name__)


def fail(status_code: int, message: str) -> JSONResponse:
    """``{"status": "fail", "message": ...}`` with ``status_code``."""
    return JSONResponse({"status": "fail", "message": message}, status_code=status_code)


def check_workflow_id(workflow_id: str) -> str:
    """The canonical form of a workflow id; a ``UserError`` (400) when it is not a UUID."""
    try:
        return str(uuid.UUID(workflow_id))
    except ValueError:
        raise UserError(f"Invalid workflow ID: '{workflow_id}'.") from None


async def _user_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UserError)
    if isinstance(exc, UnknownWorkflow):
        return fail(exc.http_status, str(exc) or "Unrecognized workflow ID")
    return fail(exc.http_status, str(exc))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = fail(exc.status_code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return fail(400, "; ".join(parts) or "invalid request")


async def _store_down(_request: Request, exc: Exception) -> JSONResponse:
    """The database is down, locked or full: nothing was half-stored; the client may retry."""
    log.warning("store unavailable while serving a request: %s", type(exc).__name__)
    return fail(503, "the engine's database is unavailable; try again shortly")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error serving a request", exc_info=exc)
    return JSONResponse(
        {"status": "error", "message": f"internal error: {type(exc).__name__}"}, status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map user errors, HTTP errors and validation errors to Cromwell's error shape."""
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _store_down)
    app.add_exception_handler(Exception, _unexpected)
