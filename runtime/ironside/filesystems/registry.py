"""The engine's S3 file system, shared by the stdlib, output collection and local inputs.

The AWS Batch backend registers its own S3 client (``set_s3_client``) so that all
reads go to the same endpoint and credentials; otherwise a default boto3 client
is made on first use (standard credential chain, ``AWS_ENDPOINT_URL`` honoured).
Reads of ``s3://`` files by ``read_*``/``size`` go through ``local_copy``: one
download per URI per process, kept in a private temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # botocore loads only when an s3:// path is used
    from ironside.filesystems.s3 import S3FileSystem

_lock = threading.Lock()
_state: dict[str, Any] = {"fs": None, "cache": None}


def set_s3_client(client: Any) -> None:
    """Use ``client`` for every ``s3://`` access of this process."""
    from ironside.filesystems.s3 import S3FileSystem

    with _lock:
        _state["fs"] = S3FileSystem(client) if client is not None else None


def s3() -> S3FileSystem:
    """The shared S3 file system (a default boto3 client when none was set)."""
    with _lock:
        fs = _state["fs"]
        if fs is None:
            import boto3

            from ironside.filesystems.s3 import S3FileSystem

            fs = _state["fs"] = S3FileSystem(boto3.client("s3"))
        return fs  # type: ignore[no-any-return]


def fetch(uri: str, local: str) -> None:
    """Download ``uri`` to ``local`` (directories made; written atomically)."""
    os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
    data = s3().read_bytes(uri)
    tmp = f"{local}.part{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, local)


def local_copy(uri: str) -> str:
    """A local file with the content of ``uri`` (downloaded once per process)."""
    with _lock:
        if _state["cache"] is None:
            _state["cache"] = tempfile.mkdtemp(prefix="ironside-s3-")
        cache: str = _state["cache"]
    digest = hashlib.sha256(uri.encode()).hexdigest()[:24]
    local = os.path.join(cache, digest, os.path.basename(uri) or "object")
    if not os.path.exists(local):
        fetch(uri, local)
    return local


def exists(path: str) -> bool:
    """Whether a local path or ``s3://`` object exists."""
    return s3().exists(path) if path.startswith("s3://") else os.path.exists(path)


def clear_cache() -> None:
    """Forget downloaded copies (tests; long-running servers between workflows)."""
    with _lock:
        cache, _state["cache"] = _state["cache"], None
    if cache:
        shutil.rmtree(cache, ignore_errors=True)
