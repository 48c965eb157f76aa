"""Local disk: paths on the engine host."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator

from ironside.filesystems.base import FileInfo, FileSystem


class LocalFileSystem(FileSystem):
    """Read, write, stat, hash and copy local files (hard link when it can)."""

    scheme = ""

    def exists(self, path: str) -> bool:
        """Whether a file or directory is there."""
        return os.path.exists(path)

    def read_bytes(self, path: str) -> bytes:
        """The file's bytes."""
        with open(path, "rb") as fh:
            return fh.read()

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write (creating parent directories)."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)

    def info(self, path: str) -> FileInfo:
        """Size and MD5."""
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return FileInfo(path=path, size=os.path.getsize(path), content_id=digest.hexdigest())

    def copy(self, src: str, dst: str) -> None:
        """Hard link when on the same device, else copy."""
        os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        if os.path.lexists(dst):
            os.unlink(dst)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    def list(self, prefix: str) -> Iterator[str]:
        """Every file under a directory."""
        for dirpath, _dirs, files in os.walk(prefix):
            for name in sorted(files):
                yield os.path.join(dirpath, name)
