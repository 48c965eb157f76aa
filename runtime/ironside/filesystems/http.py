"""``http://`` and ``https://`` files: read-only, downloaded by the engine.

Every request has a timeout (connect and each read), a size cap (a declared
``Content-Length`` over it is refused before any byte is read; a body that grows
past it is cut off and refused), and up to ``tries`` attempts with growing sleeps
on connection errors, timeouts, 429 and 5xx. Redirects are followed (at most
``MAX_REDIRECTS``) only to the same scheme and host: a redirect to another scheme
or host is refused, naming both URLs, so an allowed URL cannot lead the engine to
a host nobody allowed (the instance metadata service, a ``file://`` path).

A file's content identity (the call cache's key for it) is what the server says
of the content: ``etag:<ETag>``, else ``last-modified:<date>``, else only
``url:<the URL>`` (the content is then assumed to stay as it is).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from ironside.filesystems.base import FileInfo, FileSystem

GiB = 1024**3
DEFAULT_MAX_BYTES = 100 * GiB
DEFAULT_TIMEOUT = 30.0
DEFAULT_TRIES = 3
MAX_REDIRECTS = 5
_RETRIED_STATUS = {429, 500, 502, 503, 504}


class HttpRefused(OSError):
    """An http(s) file that cannot or may not be downloaded (the message says why)."""


def is_http(path: str) -> bool:
    """Whether ``path`` is an ``http://`` or ``https://`` URL."""
    return path.startswith(("http://", "https://"))


class HttpFileSystem(FileSystem):
    """Files behind http(s) URLs, fetched with httpx (made on first use)."""

    scheme = "http"

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        tries: int = DEFAULT_TRIES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.tries = max(1, tries)
        self._sleep = sleep
        self._client: Any = None
        self._lock = threading.Lock()

    # -- the FileSystem interface ------------------------------------------------

    def exists(self, path: str) -> bool:
        """Whether a HEAD of ``path`` answers 200."""
        try:
            self.info(path)
        except FileNotFoundError:
            return False
        return True

    def read_bytes(self, path: str) -> bytes:
        """The body (at most ``max_bytes``)."""
        return self.read_prefix(path, self.max_bytes, refuse_longer=True)

    def write_bytes(self, path: str, data: bytes) -> None:
        raise HttpRefused(f"{path}: http(s) files are read-only")

    def info(self, path: str) -> FileInfo:
        """Size (``-1`` when the server does not say) and content identity from a HEAD."""
        response = self._request("HEAD", path)
        response.close()
        headers = response.headers
        size = int(headers.get("content-length", -1))
        return FileInfo(path=path, size=size, content_id=content_identity(path, headers))

    def copy(self, src: str, dst: str) -> None:
        raise HttpRefused(f"{dst}: http(s) files are read-only")

    def list(self, prefix: str) -> Iterator[str]:
        raise HttpRefused(f"{prefix}: http(s) URLs cannot be listed")

    # -- downloads ---------------------------------------------------------------

    def read_prefix(self, url: str, limit: int, refuse_longer: bool = False) -> bytes:
        """At most ``limit + 1`` bytes of the body (``refuse_longer``: more is an error)."""
        chunks: list[bytes] = []
        size = 0
        for chunk in self._body(url, limit if refuse_longer else None):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
        return b"".join(chunks)[: limit + 1]

    def download(self, url: str, local: str) -> None:
        """Stream the body to ``local`` (written atomically; over ``max_bytes``: refused)."""
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        tmp = f"{local}.part{os.getpid()}.{threading.get_ident()}"
        try:
            with open(tmp, "wb") as fh:
                for chunk in self._body(url, self.max_bytes):
                    fh.write(chunk)
            os.replace(tmp, local)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _body(self, url: str, cap: int | None) -> Iterator[bytes]:
        """The body's chunks; with ``cap``, a body longer than it is ``HttpRefused``."""
        import httpx

        response = self._request("GET", url)
        try:
            declared = int(response.headers.get("content-length", -1))
            if cap is not None and declared > cap:
                raise HttpRefused(f"{url}: {declared} bytes, more than the {cap} allowed")
            size = 0
            try:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if cap is not None and size > cap:
                        raise HttpRefused(f"{url}: more than the {cap} bytes allowed")
                    yield chunk
            except httpx.HTTPError as exc:
                raise HttpRefused(f"{url}: download failed: {type(exc).__name__}") from None
        finally:
            response.close()

    def _request(self, method: str, url: str) -> Any:
        """The response to ``method url`` (streamed), after retries and allowed redirects."""
        import httpx

        client = self._http()
        for attempt in range(1, self.tries + 1):
            try:
                response = self._follow(client, method, url)
            except httpx.HTTPError as exc:
                if attempt == self.tries:
                    raise HttpRefused(f"{url}: cannot fetch: {type(exc).__name__}") from None
            else:
                if response.status_code == 200:
                    return response
                response.close()
                if response.status_code in (404, 410):
                    raise FileNotFoundError(f"{url}: HTTP {response.status_code}")
                if response.status_code not in _RETRIED_STATUS or attempt == self.tries:
                    raise HttpRefused(f"{url}: HTTP {response.status_code}")
            self._sleep(0.5 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _follow(self, client: Any, method: str, url: str) -> Any:
        """Send, following redirects that keep the scheme and host."""
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            response = client.send(client.build_request(method, target), stream=True)
            if not response.is_redirect:
                return response
            response.close()
            location = urljoin(target, response.headers.get("location", ""))
            if not same_origin(target, location):
                raise HttpRefused(
                    f"{url}: redirected to {location}: only redirects to the same scheme and"
                    " host are followed"
                )
            target = location
        raise HttpRefused(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(follow_redirects=False, timeout=self.timeout)
            return self._client

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs have the same scheme, host and port."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme.lower(), pa.hostname, pa.port) == (pb.scheme.lower(), pb.hostname, pb.port)


def content_identity(url: str, headers: Any) -> str:
    """The call cache's identity of an http(s) file (see the module's docstring)."""
    etag = headers.get("etag")
    if etag:
        return f"etag:{etag}"
    modified = headers.get("last-modified")
    if modified:
        return f"last-modified:{modified}"
    return f"url:{url}"


def local_name(url: str) -> str:
    """Where an http(s) file goes under a call's inputs: ``<scheme>/<host>/<path>`` (the
    query dropped, ``.``/``..`` segments left out, ``index`` for a directory URL)."""
    parts = urlsplit(url)
    host = (parts.hostname or "host") + (f"_{parts.port}" if parts.port else "")
    segments = [s for s in parts.path.split("/") if s not in ("", ".", "..")]
    if not segments or parts.path.endswith("/"):
        segments.append("index")
    return "/".join([parts.scheme.lower(), host, *segments])
