"""Where a WDL ``import`` may come from: the import resolver handed to miniwdl's loader.

A submitted workflow imports from its own dependencies zip (relative paths,
resolved beside the importing document, then at the zip's root), and from
``http(s)://`` or ``s3://`` URLs only when the operator allows that scheme and
host; never from the engine host's file system. ``ironside run`` also allows
local files under the workflow's directory and any ``--allow-path``. Every
document counts against ``max-imports``, ``max-import-depth`` and
``max-wdl-bytes``. A refused import is a ``PathRefused`` naming the URI; nothing
of a refused file is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import WDL

from ironside.errors import LimitExceeded, PathRefused
from ironside.limits import Limits

URL_SCHEMES = ("http", "https", "s3")
UrlCheck = Callable[[str, str], bool]  # (scheme, host) -> allowed


def any_url(_scheme: str, _host: str) -> bool:
    """The URL check of ``ironside run``: the user's own machine may fetch any URL."""
    return True


def no_url(_scheme: str, _host: str) -> bool:
    """The default URL check of the server: no URL imports."""
    return False


@dataclass(frozen=True)
class ImportPolicy:
    """Local directories imports may be read from, and which URLs may be fetched."""

    local_roots: tuple[str, ...] = ()
    url_allowed: UrlCheck = no_url
    limits: Limits = Limits()
    timeout: float = 30.0
    #: reads at most (limit + 1) bytes of an ``s3://`` object (the engine's
    #: ``FileSystems.read_prefix``); None: s3 imports refused
    s3_read: Callable[[str, int], bytes] | None = None

    def with_roots(self, roots: Sequence[str]) -> ImportPolicy:
        """This policy with more local roots (resolved now)."""
        extra = tuple(os.path.realpath(r) for r in roots if r)
        return replace(self, local_roots=self.local_roots + extra)


def _is_url(uri: str) -> bool:
    return urlsplit(uri).scheme.lower() in URL_SCHEMES


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


class ImportResolver:
    """miniwdl's ``read_source`` over an ``ImportPolicy``; the main document is given as text."""

    def __init__(
        self, policy: ImportPolicy, main_abspath: str, main_text: str | None, search: list[str]
    ) -> None:
        self.policy = policy
        self.main_abspath = main_abspath
        self.main_text = main_text
        self.search = search
        self.count = 0
        self.depths: dict[str, int] = {main_abspath: 0}

    async def __call__(self, uri: str, _paths: list[str], importer: Any) -> WDL.ReadSourceResult:
        limits = self.policy.limits
        if importer is None:
            text = self.main_text if self.main_text is not None else self._read(self.main_abspath)
            limits.check("max_wdl_bytes", len(text.encode()), self.main_abspath)
            return WDL.ReadSourceResult(source_text=text, abspath=self.main_abspath)
        parent = importer.pos.abspath
        depth = self.depths.get(parent, 0) + 1
        limits.check("max_import_depth", depth, f"import {uri}: import depth")
        self.count += 1
        limits.check("max_imports", self.count, f"import {uri}: documents imported")
        if _is_url(uri) or _is_url(parent):
            target = uri if _is_url(uri) else urljoin(parent, uri)
            text = self._fetch(target, uri)
        else:
            target = self._local(uri, parent)
            text = self._read(target)
        self.depths[target] = depth
        return WDL.ReadSourceResult(source_text=text, abspath=target)

    def _local(self, uri: str, parent: str) -> str:
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        refused = PathRefused(
            f"import {uri}: not found in the workflow's dependencies"
            + (" (files of the engine host cannot be imported)" if os.path.isabs(path) else "")
        )
        if os.path.isabs(path):
            candidates = [path]
        else:
            candidates = [os.path.join(d, path) for d in [os.path.dirname(parent), *self.search]]
        for candidate in candidates:
            real = os.path.realpath(candidate)
            if _under(real, self.policy.local_roots) and os.path.isfile(real):
                return os.path.abspath(candidate)
        raise refused

    def _read(self, path: str) -> str:
        limit = self.policy.limits.max_wdl_bytes
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise PathRefused(f"{path}: cannot read: {exc.strerror or exc}") from None
        return self._decode(data, path)

    def _decode(self, data: bytes, where: str) -> str:
        limit = self.policy.limits.max_wdl_bytes
        if len(data) > limit:
            raise LimitExceeded(
                f"{where}: larger than the {limit} bytes allowed ({Limits.key('max_wdl_bytes')})"
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise PathRefused(f"{where}: not UTF-8 text") from None

    def _fetch(self, url: str, uri: str) -> str:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        if "\\" in url or any(ord(c) < 33 or ord(c) == 127 for c in url):
            raise PathRefused(f"import {uri!r}: backslashes and spaces are not allowed in URLs")
        if not self.policy.url_allowed(scheme, host):
            raise PathRefused(f"import {uri}: {scheme}://{host} is not allowed by the server")
        if scheme == "s3":
            return self._decode(self._s3(url), uri)
        limit = self.policy.limits.max_wdl_bytes
        return self._decode(_http_bytes(url, limit, self.policy.timeout), uri)

    def _s3(self, url: str) -> bytes:
        if self.policy.s3_read is None:
            raise PathRefused(f"import {url}: s3:// imports are not available here")
        try:
            return self.policy.s3_read(url, self.policy.limits.max_wdl_bytes)
        except Exception as exc:  # botocore's errors are many
            raise PathRefused(f"import {url}: cannot read: {type(exc).__name__}") from None


def _http_bytes(url: str, limit: int, timeout: float) -> bytes:
    import httpx  # only when a document imports a URL

    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.Client(follow_redirects=False, timeout=timeout) as c, c.stream("GET", url) as r:
            if r.status_code != 200:
                raise PathRefused(f"import {url}: HTTP {r.status_code}")
            for chunk in r.iter_bytes():
                size += len(chunk)
                chunks.append(chunk)
                if size > limit:
                    break
    except httpx.HTTPError as exc:
        raise PathRefused(f"import {url}: cannot fetch: {type(exc).__name__}") from None
    return b"".join(chunks)
