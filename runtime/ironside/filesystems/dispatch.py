"""``FileSystems``: one object that serves every path by its scheme (local disk, ``s3://``,
``http(s)://`` read-only).

Built once at the composition root and handed to whatever reads or writes
workflow files (the stdlib, output collection, the local backend's input
staging). The S3 client is given (the AWS Batch backend's, or one the root
made); without one, a default boto3 client is made on the first ``s3://``
path, so a local-only run never loads botocore. Reads of ``s3://`` files by
``read_*``/``size`` go through ``local_copy``: one download per URI, kept in
a private temporary directory of this object; so do ``http(s)://`` files.
``fetch`` downloads any of them to a local path or an ``s3://`` key.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ironside.filesystems.base import FileInfo, FileSystem
from ironside.filesystems.http import HttpFileSystem, is_http
from ironside.filesystems.local import LocalFileSystem

if TYPE_CHECKING:  # botocore loads only when an s3:// path is used
    from ironside.filesystems.s3 import S3FileSystem


def _default_s3_client() -> Any:
    import boto3

    return boto3.client("s3")


class FileSystems:
    """Local and S3 file systems behind one interface, chosen by each path's scheme."""

    def __init__(
        self,
        s3_client: Any = None,
        s3_client_factory: Callable[[], Any] = _default_s3_client,
        http: HttpFileSystem | None = None,
    ) -> None:
        self.local = LocalFileSystem()
        self.http = http or HttpFileSystem()
        self._s3_client = s3_client
        self._s3_factory = s3_client_factory
        self._s3: S3FileSystem | None = None
        self._lock = threading.Lock()
        self._cache_dir: str | None = None

    @property
    def s3(self) -> S3FileSystem:
        """The S3 file system (its client made on first use when none was given)."""
        with self._lock:
            if self._s3 is None:
                from ironside.filesystems.s3 import S3FileSystem

                client = self._s3_client if self._s3_client is not None else self._s3_factory()
                self._s3_client = client
                self._s3 = S3FileSystem(client)
            return self._s3

    @property
    def s3_client(self) -> Any:
        """The boto3 S3 client every ``s3://`` access uses."""
        return self.s3.client

    def for_path(self, path: str) -> FileSystem:
        """The file system serving ``path``."""
        if path.startswith("s3://"):
            return self.s3
        if is_http(path):
            return self.http
        if "://" in path:
            raise ValueError(f"unsupported URL scheme: {path.split('://', 1)[0]}://")
        return self.local

    def exists(self, path: str) -> bool:
        """Whether a local path or ``s3://`` object exists."""
        return self.for_path(path).exists(path)

    def info(self, path: str) -> FileInfo:
        """Size and content identity (``FileNotFoundError`` when missing)."""
        return self.for_path(path).info(path)

    def size(self, path: str) -> int:
        """Size in bytes without reading the data (``OSError`` when missing)."""
        if path.startswith("s3://") or is_http(path):
            size = self.for_path(path).info(path).size
            if size < 0:  # a server that does not say: the body tells
                size = len(self.for_path(path).read_bytes(path))
            return size
        return os.path.getsize(path)

    def list(self, prefix: str) -> Iterator[str]:
        """Every file under a directory or key prefix."""
        return self.for_path(prefix).list(prefix)

    def fetch(self, uri: str, local: str) -> None:
        """Download ``uri`` to ``local`` (directories made; written atomically); an ``s3://``
        ``local`` gets the object uploaded (an http(s) file through a temporary file)."""
        if local.startswith("s3://"):
            self._to_s3(uri, local)
            return
        if is_http(uri):
            self.http.download(uri, local)
            return
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        data = self.for_path(uri).read_bytes(uri)
        tmp = f"{local}.part{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, local)

    def _to_s3(self, uri: str, dest: str) -> None:
        if not is_http(uri):
            self.for_path(dest).write_bytes(dest, self.for_path(uri).read_bytes(uri))
            return
        from ironside.filesystems.s3 import split_s3_uri

        with tempfile.TemporaryDirectory(prefix="ironside-http-") as tmp:
            local = os.path.join(tmp, "body")
            self.http.download(uri, local)
            bucket, key = split_s3_uri(dest)
            self.s3_client.upload_file(local, bucket, key)  # multipart when large

    def read_prefix(self, uri: str, limit: int) -> bytes:
        """At most ``limit + 1`` bytes of ``uri`` (enough to tell it is over ``limit``)."""
        if is_http(uri):
            return self.http.read_prefix(uri, limit)
        if uri.startswith("s3://"):
            from ironside.filesystems.s3 import split_s3_uri

            bucket, key = split_s3_uri(uri)
            body = self.s3_client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{limit}")
            data: bytes = body["Body"].read()
            return data
        with open(uri, "rb") as fh:
            return fh.read(limit + 1)

    def local_copy(self, uri: str) -> str:
        """A local file with the content of ``uri`` (downloaded once per object)."""
        with self._lock:
            if self._cache_dir is None:
                self._cache_dir = tempfile.mkdtemp(prefix="ironside-s3-")
            cache = self._cache_dir
        digest = hashlib.sha256(uri.encode()).hexdigest()[:24]
        local = os.path.join(cache, digest, os.path.basename(uri) or "object")
        if not os.path.exists(local):
            self.fetch(uri, local)
        return local

    def close(self) -> None:
        """Forget downloaded copies; close http connections."""
        self.http.close()
        with self._lock:
            cache, self._cache_dir = self._cache_dir, None
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
