"""A failing S3 endpoint on loopback: a proxy in front of moto that answers a seeded share
of requests with ``500 InternalError`` instead of forwarding them."""

from __future__ import annotations

import http.client
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAILURE = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


class FailingEndpoint(ThreadingHTTPServer):
    """Forwards to ``upstream``; ``share`` of the requests (seeded) get a 500."""

    daemon_threads = True

    def __init__(self, upstream: str, share: float, seed: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = urlsplit(upstream).netloc
        self.share = share
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.forwarded = 0
        self.failed = 0

    @property
    def url(self) -> str:
        """Where clients send their requests."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def should_fail(self) -> bool:
        """Draw for one request (and count it)."""
        with self.lock:
            fail = self.rng.random() < self.share
            if fail:
                self.failed += 1
            else:
                self.forwarded += 1
            return fail


class _Handler(BaseHTTPRequestHandler):
    server: FailingEndpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.should_fail():
            self._answer(500, {"Content-Type": "application/xml"}, FAILURE, len(FAILURE))
            return
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        kept = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
        upstream.close()
        length = response.getheader("Content-Length") if self.command == "HEAD" else len(data)
        self._answer(response.status, kept, data, length or 0)

    def _answer(self, status: int, headers: dict[str, str], body: bytes, length: int | str) -> None:
        """``length``: the body's, or for HEAD the object's size."""
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any


@contextmanager
def failing_endpoint(upstream: str, share: float, seed: int) -> Iterator[FailingEndpoint]:
    """A ``FailingEndpoint`` serving on a thread for the ``with`` block."""
    server = FailingEndpoint(upstream, share, seed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
