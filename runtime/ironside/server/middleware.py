"""ASGI middleware: Host/Origin checks, optional bearer-token auth, a bound on body size.

All answer in Cromwell's error shape. The Host/Origin guard runs first (a page
on another site, or a DNS-rebound name, never reaches a route), then auth, so
a client without the token cannot make the server read a large body.
``/engine/v1/status`` stays open (load balancers probe it).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ironside.errors import UserError
from ironside.server.settings import ServerSettings

OPEN_PATHS = frozenset({"/engine/v1/status"})


async def _send_fail(
    send: Send, status: int, message: str, headers: list[Any] | None = None
) -> None:
    body = json.dumps({"status": "fail", "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """401 on every route but ``OPEN_PATHS`` unless ``Authorization: Bearer <token>`` matches."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = ("Bearer " + token).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                given = value
        if not hmac.compare_digest(given, self._expected):
            challenge = [(b"www-authenticate", b'Bearer realm="ironside"')]
            await _send_fail(send, 401, "missing or wrong bearer token", challenge)
            return
        await self.app(scope, receive, send)


class RequestTooLarge(UserError):
    """The request body is over the configured limit."""

    http_status = 413


class BodyLimit:
    """413 when the declared or actual request body exceeds ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body larger than {self.limit} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_fail(send, 413, message)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.limit:
                    raise RequestTooLarge(message)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestTooLarge:
            if not started:
                await _send_fail(send, 413, message)


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8000`` -> ``::1``), lower-case."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostOriginGuard:
    """400 for a ``Host`` the server is not named by (DNS rebinding); 403 for a
    state-changing request from a foreign ``Origin`` (a web page posting to the API)."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.names = settings.host_names()
        self.any_host = settings.accepts_any_host()
        self.origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or ""
        if not self.any_host and host_name(host) not in self.names:
            await _send_fail(send, 400, "Host header is not one of this server's names")
            return
        if scope.get("method", "GET") in STATE_CHANGING and not self._same_site(scope, host):
            await _send_fail(send, 403, "cross-origin request refused")
            return
        await self.app(scope, receive, send)

    def _same_site(self, scope: Scope, host: str) -> bool:
        origin = _header(scope, b"origin")
        if origin is None:  # not a browser, or a same-origin form of an old browser
            return _header(scope, b"sec-fetch-site") in (None, "same-origin", "none")
        origin = origin.rstrip("/").lower()
        scheme = scope.get("scheme", "http")
        return origin == f"{scheme}://{host.lower()}" or origin in self.origins
