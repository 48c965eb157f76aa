"""A small HTTP server on 127.0.0.1 for remote-input tests (files, redirects, faults).

``LoopbackHttp.serve(path, body, etag=...)`` publishes a file; ``redirect(path, to)``
answers 302; ``fail(path, n)`` answers 503 to the first ``n`` requests of ``path``;
``chunked`` files are sent without ``Content-Length``. Every request is recorded in
``requests`` as ``(method, path)``. Sockets time out after 10 s, so a test never hangs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class _File:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False


class LoopbackHttp:
    """What the server answers (mutable while it runs)."""

    def __init__(self) -> None:
        self.files: dict[str, _File] = {}
        self.redirects: dict[str, str] = {}
        self.failures: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []
        self.port = 0

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def serve(
        self,
        path: str,
        body: bytes | str,
        etag: str | None = None,
        last_modified: str | None = None,
        chunked: bool = False,
    ) -> str:
        """Publish ``body`` at ``path``; return its URL."""
        headers = {}
        if etag is not None:
            headers["ETag"] = f'"{etag}"'
        if last_modified is not None:
            headers["Last-Modified"] = last_modified
        data = body.encode() if isinstance(body, str) else body
        self.files[path] = _File(data, headers, chunked)
        return self.base + path

    def redirect(self, path: str, to: str) -> str:
        """Answer ``path`` with a 302 to ``to``; return the URL of ``path``."""
        self.redirects[path] = to
        return self.base + path

    def fail(self, path: str, times: int) -> None:
        """Answer the next ``times`` requests of ``path`` with 503."""
        self.failures[path] = times


def _handler(state: LoopbackHttp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _answer(self, with_body: bool) -> None:
            path = self.path.split("?", 1)[0]
            state.requests.append((self.command, path))
            if state.failures.get(path, 0) > 0:
                state.failures[path] -= 1
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            f = state.files.get(path)
            if f is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            for k, v in f.headers.items():
                self.send_header(k, v)
            if f.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if with_body:
                    for i in range(0, len(f.body), 1024):
                        piece = f.body[i : i + 1024]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(f.body)))
            self.end_headers()
            if with_body:
                self.wfile.write(f.body)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

    return Handler


@contextmanager
def loopback_http() -> Iterator[LoopbackHttp]:
    """A running server on 127.0.0.1 (an ephemeral port), shut down afterwards."""
    state = LoopbackHttp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="loopback-http", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
