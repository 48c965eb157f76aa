"""Duplication strategies: local links and copies, S3 server-side copy and reference."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ironside.callcache.duplication import (
    DuplicationFailed,
    LocalDuplicator,
    S3Duplicator,
    destination,
    local_duplicator,
    s3_duplicator,
    strategies_from_config,
)
from ironside.errors import BadConfig
from ironside.filesystems.s3 import MiB, S3FileSystem, multipart_etag_parts


def cached_call(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "wf1" / "call-a"
    (root / "execution" / "sub").mkdir(parents=True)
    out = root / "execution" / "out.txt"
    out.write_text("result")
    nested = root / "execution" / "sub" / "n.txt"
    nested.write_text("nested")
    return root, [str(out), str(nested)]


def test_hard_link_first(tmp_path: Path) -> None:
    root, files = cached_call(tmp_path)
    dest = tmp_path / "wf2" / "call-a" / "cacheCopy"
    duplicator = local_duplicator(None)
    mapping = duplicator.duplicate(files, str(root), str(dest))
    assert mapping == {
        files[0]: str(dest / "execution" / "out.txt"),
        files[1]: str(dest / "execution" / "sub" / "n.txt"),
    }
    assert duplicator.used == ["hard-link", "hard-link"]
    assert os.stat(mapping[files[0]]).st_ino == os.stat(files[0]).st_ino
    assert Path(mapping[files[1]]).read_text() == "nested"


@pytest.mark.parametrize("strategy", ["soft-link", "copy"])
def test_single_strategies(tmp_path: Path, strategy: str) -> None:
    root, files = cached_call(tmp_path)
    dest = tmp_path / "dest"
    duplicator = LocalDuplicator([strategy])
    target = duplicator.duplicate(files[:1], str(root), str(dest))[files[0]]
    assert Path(target).read_text() == "result"
    assert os.path.islink(target) == (strategy == "soft-link")
    assert os.stat(target).st_ino != os.stat(files[0]).st_ino or strategy == "soft-link"


def test_falls_back_in_order_when_a_strategy_fails(tmp_path: Path) -> None:
    root, _ = cached_call(tmp_path)
    directory = str(root / "execution" / "sub")  # directories cannot be hard-linked
    soft = LocalDuplicator(["hard-link", "soft-link", "copy"])
    linked = soft.duplicate([directory], str(root), str(tmp_path / "d1"))[directory]
    assert soft.used == ["soft-link"] and os.path.islink(linked)
    copying = LocalDuplicator(["hard-link", "copy"])
    copied = copying.duplicate([directory], str(root), str(tmp_path / "d2"))[directory]
    assert copying.used == ["copy"] and (Path(copied) / "n.txt").read_text() == "nested"
    with pytest.raises(DuplicationFailed, match="hard-link"):
        LocalDuplicator(["hard-link"]).duplicate([directory], str(root), str(tmp_path / "d3"))


def test_missing_local_file_fails(tmp_path: Path) -> None:
    root, files = cached_call(tmp_path)
    os.remove(files[0])
    with pytest.raises(DuplicationFailed) as caught:
        local_duplicator(None).duplicate(files, str(root), str(tmp_path / "dest"))
    assert caught.value.path == files[0]


def test_files_outside_the_root_are_referenced(tmp_path: Path) -> None:
    root, _ = cached_call(tmp_path)
    outside = tmp_path / "input.txt"
    outside.write_text("in")
    mapping = local_duplicator(None).duplicate([str(outside)], str(root), str(tmp_path / "d"))
    assert mapping == {str(outside): str(outside)}
    assert destination("s3://b/r/x", "s3://b/r/", "s3://b/n") == "s3://b/n/x"
    assert destination("s3://b/rx", "s3://b/r", "s3://b/n") is None


def test_config_parsing() -> None:
    assert strategies_from_config("local", None) == ("hard-link", "soft-link", "copy")
    assert strategies_from_config("local", {"duplication-strategy": "copy"}) == ("copy",)
    assert strategies_from_config("s3", {}) == ("copy",)
    with pytest.raises(BadConfig, match="local duplication-strategy"):
        local_duplicator({"duplication-strategy": ["hard-link", "teleport"]})
    with pytest.raises(BadConfig, match="s3 duplication-strategy"):
        S3Duplicator(S3FileSystem(None), "hard-link")
    with pytest.raises(BadConfig):
        s3_duplicator(S3FileSystem(None), {"duplication-strategy": ["copy", "reference"]})


def put_outputs(client: Any) -> list[str]:
    client.put_object(Bucket="bkt", Key="wf1/call-a/out.txt", Body=b"result")
    client.put_object(Bucket="bkt", Key="wf1/call-a/stdout", Body=b"log")
    return ["s3://bkt/wf1/call-a/out.txt", "s3://bkt/wf1/call-a/stdout"]


def test_s3_copy_is_server_side(s3_client: Any, s3_ops: Any) -> None:
    files = put_outputs(s3_client)
    fs = S3FileSystem(s3_client)
    mapping = s3_duplicator(fs, None).duplicate(
        files, "s3://bkt/wf1/call-a", "s3://bkt/wf2/call-a/cacheCopy"
    )
    assert mapping[files[0]] == "s3://bkt/wf2/call-a/cacheCopy/out.txt"
    assert s3_ops.count("CopyObject") == 2
    assert s3_ops.count("GetObject") == 0
    assert s3_ops.count("PutObject") == 2  # only the setup
    assert fs.info(mapping[files[0]]).content_id == fs.info(files[0]).content_id


def test_s3_copy_above_threshold_uses_upload_part_copy(s3_client: Any, s3_ops: Any) -> None:
    s3_client.put_object(Bucket="bkt", Key="wf1/call-a/big.bam", Body=os.urandom(6 * MiB))
    fs = S3FileSystem(s3_client, multipart_threshold=MiB)
    mapping = S3Duplicator(fs, "copy").duplicate(
        ["s3://bkt/wf1/call-a/big.bam"], "s3://bkt/wf1/call-a", "s3://bkt/wf2/c"
    )
    assert mapping == {"s3://bkt/wf1/call-a/big.bam": "s3://bkt/wf2/c/big.bam"}
    assert s3_ops.count("UploadPartCopy") == 2
    assert s3_ops.count("CopyObject") == 0 and s3_ops.count("GetObject") == 0
    assert multipart_etag_parts(fs.info("s3://bkt/wf2/c/big.bam").content_id) == 2


def test_s3_reference_copies_nothing(s3_client: Any, s3_ops: Any) -> None:
    files = put_outputs(s3_client)
    duplicator = s3_duplicator(S3FileSystem(s3_client), {"duplication-strategy": "reference"})
    mapping = duplicator.duplicate(files, "s3://bkt/wf1/call-a", "s3://bkt/wf2/x")
    assert mapping == {path: path for path in files}
    copies = {"CopyObject", "UploadPartCopy", "PutObject", "GetObject"}
    assert [op for op in s3_ops.calls if op in copies] == ["PutObject", "PutObject"]


@pytest.mark.parametrize("strategy", ["copy", "reference"])
def test_s3_deleted_source_fails(s3_client: Any, strategy: str) -> None:
    files = put_outputs(s3_client)
    s3_client.delete_object(Bucket="bkt", Key="wf1/call-a/stdout")
    duplicator = S3Duplicator(S3FileSystem(s3_client), strategy)
    with pytest.raises(DuplicationFailed, match="no longer exists") as caught:
        duplicator.duplicate(files, "s3://bkt/wf1/call-a", "s3://bkt/wf2/x")
    assert caught.value.path == files[1]


def test_s3_copies_many_files_concurrently(s3_client: Any, s3_ops: Any) -> None:
    files = []
    for n in range(20):
        s3_client.put_object(Bucket="bkt", Key=f"wf1/c/out{n}", Body=f"v{n}".encode())
        files.append(f"s3://bkt/wf1/c/out{n}")
    duplicator = S3Duplicator(S3FileSystem(s3_client), "copy", max_concurrency=4)
    mapping = duplicator.duplicate(files, "s3://bkt/wf1/c", "s3://bkt/wf2/c")
    assert mapping == {f: f.replace("wf1", "wf2") for f in files}
    assert s3_ops.count("CopyObject") == 20
    body = s3_client.get_object(Bucket="bkt", Key="wf2/c/out7")["Body"].read()
    assert body == b"v7"
    s3_client.delete_object(Bucket="bkt", Key="wf1/c/out13")
    with pytest.raises(DuplicationFailed) as caught:
        duplicator.duplicate(files, "s3://bkt/wf1/c", "s3://bkt/wf3/c")
    assert caught.value.path == "s3://bkt/wf1/c/out13"
