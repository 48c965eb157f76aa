"""ASGI middleware: optional bearer-token auth and a bound on request body size.

Both answer in Cromwell's error shape. Auth runs first, so a client without
the token cannot make the server read a large body. ``/engine/v1/status``
stays open (load balancers probe it).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ironside.errors import UserError

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
