"""The seam between the engine and where files live.

Everything that touches a task's inputs, outputs or logs goes through a
``FileSystem`` chosen by the path's scheme, so the call cache, the stdlib file
functions and output collection work the same on local disk and on S3.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class FileInfo:
    """What the call cache needs of a file without reading it."""

    path: str
    size: int
    content_id: str  # local: MD5 hex; S3: the ETag (quotes stripped)


class FileSystem(ABC):
    """Read, write, stat, hash and copy files under one scheme."""

    #: URI scheme it serves: "" for local paths, "s3" for s3://.
    scheme: str

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def read_bytes(self, path: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def info(self, path: str) -> FileInfo:
        """Size and content identity; raises FileNotFoundError when missing."""

    @abstractmethod
    def copy(self, src: str, dst: str) -> None:
        """Copy within this file system without passing the bytes through the engine when it can."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Every file under a directory / key prefix."""
