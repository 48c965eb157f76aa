"""``workflowUrl``: fetched only from schemes and hosts the config allows (no SSRF by default).

``file://`` URLs need ``file`` among the allowed schemes; ``http(s)://`` URLs
need the scheme and the host. Redirects are not followed (a redirect could point
anywhere), the download is bounded in size and time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx

from ironside.errors import UserError
from ironside.server.settings import ServerSettings


class UrlRefused(UserError):
    """A ``workflowUrl`` the server may not, or cannot, fetch."""


@dataclass(frozen=True)
class Fetched:
    """A fetched workflow: its text and, for ``file://``, the directory its imports live in."""

    text: str
    base_dir: str | None = None


def _decode(data: bytes, url: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UrlRefused(f"workflowUrl {url}: not UTF-8 text") from None


def _fetch_file(path: str, url: str, limit: int) -> Fetched:
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise UrlRefused(f"workflowUrl {url}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UrlRefused(f"workflowUrl {url}: larger than {limit} bytes")
    return Fetched(_decode(data, url), os.path.dirname(path))


async def _fetch_http(url: str, settings: ServerSettings) -> Fetched:
    limit = settings.workflow_url_max_bytes
    chunks: list[bytes] = []
    size = 0
    try:
        async with (
            httpx.AsyncClient(follow_redirects=False, timeout=settings.workflow_url_timeout) as c,
            c.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise UrlRefused(f"workflowUrl {url}: HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise UrlRefused(f"workflowUrl {url}: larger than {limit} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise UrlRefused(f"workflowUrl {url}: cannot fetch: {type(exc).__name__}") from None
    return Fetched(_decode(b"".join(chunks), url))


async def fetch_workflow_url(url: str, settings: ServerSettings) -> Fetched:
    """The text behind ``url``, or ``UrlRefused`` when config does not allow it."""
    if "\\" in url or any(ord(c) < 33 or ord(c) == 127 for c in url):
        # parsers disagree on these (WHATWG reads "\\" as "/"): the host checked must be the
        # host fetched
        raise UrlRefused(
            f"workflowUrl {url!r}: backslashes, spaces and control characters are not allowed"
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme == "file":
        if "file" not in {s.lower() for s in settings.workflow_url_schemes}:
            raise UrlRefused(f"workflowUrl {url}: scheme 'file' is not allowed by the server")
        if host not in ("", "localhost"):
            raise UrlRefused(f"workflowUrl {url}: file URLs must not name a host")
        return _fetch_file(unquote(parts.path), url, settings.workflow_url_max_bytes)
    if scheme not in ("http", "https"):
        raise UrlRefused(f"workflowUrl {url}: unsupported scheme {scheme or '(none)'!r}")
    if not settings.url_allowed(scheme, host):
        raise UrlRefused(f"workflowUrl {url}: {scheme}://{host} is not allowed by the server")
    return await _fetch_http(url, settings)
