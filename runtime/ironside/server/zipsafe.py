"""Safe handling of ``workflowDependencies`` zips: checked before anything unpacks them.

Refused: absolute paths, drive letters, ``..`` components, symbolic links (and
any entry that is not a plain file or directory), more than ``max_files``
entries, more than ``max_bytes`` uncompressed in total. Python's ``zipfile``
never reads past an entry's declared size, so the declared sizes are binding.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile

from ironside.errors import UserError


class UnsafeZip(UserError):
    """A dependencies zip that is malformed or could escape its directory or exhaust the disk."""


def _check_name(name: str) -> None:
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafeZip(f"workflowDependencies: entry {name!r} has an absolute path")
    if ".." in norm.split("/"):
        raise UnsafeZip(f"workflowDependencies: entry {name!r} contains '..'")
    if "\x00" in norm:
        raise UnsafeZip(f"workflowDependencies: entry {name!r} contains a NUL byte")


def _check_kind(info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16
    if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise UnsafeZip(f"workflowDependencies: entry {info.filename!r} is {kind}")


def check_zip(data: bytes, max_bytes: int, max_files: int) -> list[zipfile.ZipInfo]:
    """The entries of a dependencies zip, or ``UnsafeZip`` saying what is wrong with it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnsafeZip(f"workflowDependencies: not a zip file ({exc})") from None
    entries = archive.infolist()
    if len(entries) > max_files:
        raise UnsafeZip(
            f"workflowDependencies: {len(entries)} entries, more than the limit of {max_files}"
        )
    total = 0
    for info in entries:
        _check_name(info.filename)
        _check_kind(info)
        total += info.file_size
        if total > max_bytes:
            raise UnsafeZip(f"workflowDependencies: more than {max_bytes} bytes once uncompressed")
    return entries


def safe_extract(data: bytes, dest: str, max_bytes: int, max_files: int) -> None:
    """Check ``data`` with ``check_zip`` and unpack it under ``dest`` (plain files only)."""
    entries = check_zip(data, max_bytes, max_files)
    root = os.path.realpath(dest)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in entries:
            target = os.path.realpath(os.path.join(root, info.filename))
            if target != root and not target.startswith(root + os.sep):
                raise UnsafeZip(f"workflowDependencies: entry {info.filename!r} escapes")
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(info) as src, open(target, "xb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
