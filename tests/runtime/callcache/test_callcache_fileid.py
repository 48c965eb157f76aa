"""File identity: local MD5 memoised on (path, size, mtime_ns), S3 ETag via HeadObject."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from ironside.callcache.fileid import (
    FileIdentifier,
    LocalMd5Hasher,
    MemoKey,
    md5_of_file,
    scheme_of,
)
from ironside.callcache.hashing import EMPTY_MD5
from ironside.filesystems.s3 import S3FileSystem


class CountingHash:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, path: str) -> str:
        self.paths.append(path)
        return md5_of_file(path)


class DictMemo:
    def __init__(self) -> None:
        self.data: dict[MemoKey, str] = {}

    def get(self, key: MemoKey) -> str | None:
        return self.data.get(key)

    def put(self, key: MemoKey, md5: str) -> None:
        self.data[key] = md5


def test_md5_of_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "big"
    data = os.urandom(3 * 1024 * 1024 + 7)
    path.write_bytes(data)
    assert md5_of_file(str(path)) == hashlib.md5(data).hexdigest()


def test_memoised_until_size_or_mtime_changes(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("hello")
    counting = CountingHash()
    hasher = LocalMd5Hasher(hash_file=counting)
    first = hasher.md5(str(path))
    assert first == hashlib.md5(b"hello").hexdigest()
    assert hasher.md5(str(path)) == first
    assert len(counting.paths) == 1
    path.write_text("hellO")  # same size: only mtime tells
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert hasher.md5(str(path)) == hashlib.md5(b"hellO").hexdigest()
    assert len(counting.paths) == 2


def test_lru_evicts_oldest(tmp_path: Path) -> None:
    counting = CountingHash()
    hasher = LocalMd5Hasher(capacity=2, hash_file=counting)
    paths = []
    for name in "abc":
        p = tmp_path / name
        p.write_text(name)
        paths.append(str(p))
        hasher.md5(str(p))
    hasher.md5(paths[2])
    hasher.md5(paths[1])
    assert len(counting.paths) == 3
    hasher.md5(paths[0])  # evicted
    assert len(counting.paths) == 4


def test_persistent_memo_survives_a_new_hasher(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"data")
    memo = DictMemo()
    LocalMd5Hasher(persistent=memo).md5(str(path))
    assert list(memo.data.values()) == [hashlib.md5(b"data").hexdigest()]
    counting = CountingHash()
    again = LocalMd5Hasher(persistent=memo, hash_file=counting)
    assert again.md5(str(path)) == hashlib.md5(b"data").hexdigest()
    assert counting.paths == []


def test_missing_local_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LocalMd5Hasher().md5(str(tmp_path / "nope"))


def test_identifier_dispatches_by_scheme(tmp_path: Path, s3_client: Any, s3_ops: Any) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    s3_client.put_object(Bucket="bkt", Key="k/x", Body=b"abc")
    identifier = FileIdentifier(filesystems={"s3": S3FileSystem(s3_client)})
    assert identifier.identify(str(path)) == hashlib.md5(b"abc").hexdigest()
    assert identifier.identify("file://" + str(path)) == hashlib.md5(b"abc").hexdigest()
    assert identifier.identify("s3://bkt/k/x") == hashlib.md5(b"abc").hexdigest()
    assert s3_ops.count("HeadObject") == 1
    assert s3_ops.count("GetObject") == 0
    with pytest.raises(ValueError, match="gs://"):
        identifier.identify("gs://b/x")


def test_identify_input_optional_and_required(tmp_path: Path, s3_client: Any) -> None:
    identifier = FileIdentifier(filesystems={"s3": S3FileSystem(s3_client)})
    assert identifier.identify_input([None, "s3://bkt/missing"], optional=True) == [
        EMPTY_MD5,
        EMPTY_MD5,
    ]
    with pytest.raises(FileNotFoundError):
        identifier.identify_input(["s3://bkt/missing"], optional=False)
    with pytest.raises(FileNotFoundError):
        identifier.identify_input([None], optional=False)


def test_scheme_of() -> None:
    assert scheme_of("s3://bkt/k") == "s3"
    assert scheme_of("/tmp/a://b") == ""
    assert scheme_of("relative/path") == ""


def test_local_directory_identity_follows_its_files(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    (directory / "sub").mkdir(parents=True)
    (directory / "a.txt").write_text("a")
    (directory / "sub" / "b.txt").write_text("b")
    identifier = FileIdentifier()
    first = identifier.identify(str(directory))
    assert identifier.identify(str(directory)) == first
    (directory / "sub" / "b.txt").write_text("B")
    os.utime(directory / "sub" / "b.txt", ns=(1, 1))
    assert identifier.identify(str(directory)) != first
