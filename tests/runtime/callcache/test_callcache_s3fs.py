"""S3FileSystem on moto: the FileSystem contract, ETags, server-side copies."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest

from ironside.filesystems.s3 import (
    MiB,
    S3FileSystem,
    multipart_etag_parts,
    part_size_for,
    split_s3_uri,
)


def test_contract_read_write_exists_info_list(s3_client: Any) -> None:
    fs = S3FileSystem(s3_client)
    assert not fs.exists("s3://bkt/a/x.txt")
    fs.write_bytes("s3://bkt/a/x.txt", b"hello")
    fs.write_bytes("s3://bkt/a/sub/y.txt", b"y")
    fs.write_bytes("s3://bkt/other", b"o")
    assert fs.exists("s3://bkt/a/x.txt")
    assert fs.read_bytes("s3://bkt/a/x.txt") == b"hello"
    info = fs.info("s3://bkt/a/x.txt")
    assert (info.size, info.content_id) == (5, hashlib.md5(b"hello").hexdigest())
    assert sorted(fs.list("s3://bkt/a/")) == ["s3://bkt/a/sub/y.txt", "s3://bkt/a/x.txt"]
    with pytest.raises(FileNotFoundError):
        fs.info("s3://bkt/none")
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("s3://bkt/none")


def test_small_copy_is_one_copy_object_without_get(s3_client: Any, s3_ops: Any) -> None:
    fs = S3FileSystem(s3_client)
    fs.write_bytes("s3://bkt/src", b"data" * 100)
    report = fs.copy_with_report("s3://bkt/src", "s3://bkt/dst")
    assert report.method == "CopyObject"
    assert s3_ops.count("CopyObject") == 1
    assert s3_ops.count("GetObject") == 0
    assert fs.info("s3://bkt/dst").content_id == fs.info("s3://bkt/src").content_id


def test_copy_of_missing_source_raises_file_not_found(s3_client: Any) -> None:
    with pytest.raises(FileNotFoundError):
        S3FileSystem(s3_client).copy("s3://bkt/gone", "s3://bkt/dst")


def test_above_threshold_copies_in_parts_with_the_uploaders_part_size(
    s3_client: Any, s3_ops: Any
) -> None:
    data = os.urandom(11 * MiB + 3)
    s3_client.put_object(Bucket="bkt", Key="big", Body=data)
    fs = S3FileSystem(s3_client, multipart_threshold=1 * MiB)
    report = fs.copy_with_report("s3://bkt/big", "s3://bkt/big-copy")
    assert report.method == "UploadPartCopy"
    assert (report.part_size, report.parts) == (5 * MiB, 3)
    assert s3_ops.count("UploadPartCopy") == 3
    assert s3_ops.count("CopyObject") == 0
    assert s3_ops.count("GetObject") == 0
    etag = fs.info("s3://bkt/big-copy").content_id
    assert multipart_etag_parts(etag) == 3
    body = s3_client.get_object(Bucket="bkt", Key="big-copy")["Body"].read()
    assert body == data


def _multipart_upload(client: Any, key: str, data: bytes, part_size: int) -> str:
    upload = client.create_multipart_upload(Bucket="bkt", Key=key)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(data), part_size), start=1):
        response = client.upload_part(
            Bucket="bkt",
            Key=key,
            UploadId=upload,
            PartNumber=number,
            Body=data[start : start + part_size],
        )
        parts.append({"PartNumber": number, "ETag": response["ETag"]})
    client.complete_multipart_upload(
        Bucket="bkt", Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    return str(client.head_object(Bucket="bkt", Key=key)["ETag"]).strip('"')


def test_multipart_source_keeps_its_etag_below_threshold(s3_client: Any, s3_ops: Any) -> None:
    data = os.urandom(11 * MiB)
    source_etag = _multipart_upload(s3_client, "mp", data, part_size_for(len(data)))
    assert multipart_etag_parts(source_etag) == 3
    fs = S3FileSystem(s3_client)  # default 5 GiB threshold
    report = fs.copy_with_report("s3://bkt/mp", "s3://bkt/mp-copy")
    assert report.method == "UploadPartCopy"
    assert fs.info("s3://bkt/mp-copy").content_id == source_etag
    plain = S3FileSystem(s3_client, preserve_multipart_etags=False)
    assert plain.copy_with_report("s3://bkt/mp", "s3://bkt/mp-plain").method == "CopyObject"


def test_part_size_rule_and_uri_parsing() -> None:
    assert part_size_for(1) == 5 * MiB
    assert part_size_for(100 * 1024 * MiB) == 100 * 1024 * MiB // 10000 + 1
    assert multipart_etag_parts('"' + "a" * 32 + '-12"') == 12
    assert multipart_etag_parts("a" * 32) is None
    assert split_s3_uri("s3://bucket/a/b") == ("bucket", "a/b")
    with pytest.raises(ValueError):
        split_s3_uri("/local")


def test_large_writes_use_the_uploaders_parts_and_copies_keep_the_etag(
    s3_client: Any, s3_ops: Any
) -> None:
    fs = S3FileSystem(s3_client, multipart_threshold=MiB)
    data = os.urandom(11 * MiB)
    fs.write_bytes("s3://bkt/w", data)
    assert s3_ops.count("UploadPart") == 3 and s3_ops.count("PutObject") == 0
    etag = fs.info("s3://bkt/w").content_id
    assert multipart_etag_parts(etag) == 3
    fs.copy("s3://bkt/w", "s3://bkt/w2")
    assert fs.info("s3://bkt/w2").content_id == etag
    assert fs.read_bytes("s3://bkt/w2") == data


def test_parallel_part_copy_keeps_order_and_etag(s3_client: Any) -> None:
    data = os.urandom(21 * MiB)
    etag = _multipart_upload(s3_client, "p", data, part_size_for(len(data)))
    fs = S3FileSystem(s3_client, max_concurrency=4)
    report = fs.copy_with_report("s3://bkt/p", "s3://bkt/p2")
    assert (report.method, report.parts) == ("UploadPartCopy", 5)
    assert fs.info("s3://bkt/p2").content_id == etag
    assert fs.read_bytes("s3://bkt/p2") == data


def test_failed_part_copy_aborts_the_upload(s3_client: Any) -> None:
    data = os.urandom(11 * MiB)
    s3_client.put_object(Bucket="bkt", Key="src", Body=data)
    fs = S3FileSystem(s3_client, multipart_threshold=MiB)

    def fail(**_: Any) -> None:
        raise RuntimeError("network down")

    s3_client.meta.events.register("before-call.s3.UploadPartCopy", fail)
    with pytest.raises(RuntimeError, match="network down"):
        fs.copy("s3://bkt/src", "s3://bkt/dst")
    assert s3_client.list_multipart_uploads(Bucket="bkt").get("Uploads", []) == []
    assert not fs.exists("s3://bkt/dst")
