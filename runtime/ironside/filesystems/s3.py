"""``s3://`` URIs through an injected boto3 S3 client.

Identity is the ETag (HeadObject, quotes stripped), so hashing never reads
data. Copies are server-side: ``CopyObject`` for ordinary objects, and
``UploadPartCopy`` in parts when the object is above the multipart threshold
(CopyObject's limit is 5 GiB) or was itself uploaded in parts whose sizes the
uploader's rule reproduces. Parts follow the same rule as the task script's
uploads, ``max(size // 10000 + 1, 5 MiB)``, so a copy carries the same ETag as
its source and downstream call-cache hashes do not change. Parts are copied
concurrently (``max_concurrency``), in order of part number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .base import FileInfo, FileSystem

MiB = 1024 * 1024
GiB = 1024 * MiB
#: Above this size a single CopyObject is not allowed by S3.
DEFAULT_MULTIPART_THRESHOLD = 5 * GiB
#: S3's smallest part (all but the last).
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000

_MULTIPART_ETAG = re.compile(r"^[0-9a-f]{32}-(\d+)$")
_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; raises ValueError for anything else."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key


def part_size_for(size: int, min_part_size: int = MIN_PART_SIZE) -> int:
    """The uploader's part size for an object of ``size`` bytes."""
    return max(size // MAX_PARTS + 1, min_part_size)


def multipart_etag_parts(etag: str) -> int | None:
    """The part count of a multipart ETag (``<md5>-N``), or None for a plain MD5 ETag."""
    match = _MULTIPART_ETAG.match(etag.strip('"'))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class CopyReport:
    """How a server-side copy was done: ``CopyObject`` or ``UploadPartCopy`` in ``parts``."""

    method: str
    size: int
    part_size: int = 0
    parts: int = 1


def _is_missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _MISSING_CODES or status == 404


class S3FileSystem(FileSystem):
    """Files as S3 objects, through a boto3 ``s3`` client passed in."""

    scheme = "s3"

    def __init__(
        self,
        client: Any,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        min_part_size: int = MIN_PART_SIZE,
        preserve_multipart_etags: bool = True,
        max_concurrency: int = 10,
    ) -> None:
        self.client = client
        self.max_concurrency = max(1, max_concurrency)
        self.multipart_threshold = multipart_threshold
        self.min_part_size = min_part_size
        self.preserve_multipart_etags = preserve_multipart_etags

    def exists(self, path: str) -> bool:
        """Whether the object exists (HeadObject)."""
        try:
            self._head(path)
        except FileNotFoundError:
            return False
        return True

    def read_bytes(self, path: str) -> bytes:
        """The object's bytes (GetObject)."""
        bucket, key = split_s3_uri(path)
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                raise FileNotFoundError(path) from error
            raise
        body: bytes = response["Body"].read()
        return body

    def write_bytes(self, path: str, data: bytes) -> None:
        """PutObject, or a multipart upload with the uploader's part size above the threshold."""
        bucket, key = split_s3_uri(path)
        if len(data) <= self.multipart_threshold:
            self.client.put_object(Bucket=bucket, Key=key, Body=data)
            return
        part_size = part_size_for(len(data), self.min_part_size)
        upload_id = self.client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            parts = []
            for number, (start, end) in enumerate(_byte_ranges(len(data), part_size), start=1):
                response = self.client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data[start : end + 1],
                )
                parts.append({"PartNumber": number, "ETag": response["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    def info(self, path: str) -> FileInfo:
        """Size and ETag (HeadObject); raises FileNotFoundError when missing."""
        head = self._head(path)
        return FileInfo(path=path, size=int(head["ContentLength"]), content_id=_etag(head))

    def copy(self, src: str, dst: str) -> None:
        """Server-side copy; see :meth:`copy_with_report`."""
        self.copy_with_report(src, dst)

    def copy_with_report(self, src: str, dst: str) -> CopyReport:
        """Copy ``src`` to ``dst`` inside S3 and say how; FileNotFoundError when ``src`` is gone."""
        source = self.info(src)
        part_size = part_size_for(source.size, self.min_part_size)
        if self._needs_parts(source, part_size):
            return self._multipart_copy(src, dst, source.size, part_size)
        src_bucket, src_key = split_s3_uri(src)
        dst_bucket, dst_key = split_s3_uri(dst)
        try:
            self.client.copy_object(
                Bucket=dst_bucket, Key=dst_key, CopySource={"Bucket": src_bucket, "Key": src_key}
            )
        except ClientError as error:
            if _is_missing(error):
                raise FileNotFoundError(src) from error
            raise
        return CopyReport(method="CopyObject", size=source.size)

    def list(self, prefix: str) -> Iterator[str]:
        """Every object under ``prefix`` (ListObjectsV2, paginated), as ``s3://`` URIs."""
        bucket, key_prefix = split_s3_uri(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=key_prefix):
            for item in page.get("Contents", []):
                yield f"s3://{bucket}/{item['Key']}"

    def _head(self, path: str) -> dict[str, Any]:
        bucket, key = split_s3_uri(path)
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                raise FileNotFoundError(path) from error
            raise
        return head

    def _needs_parts(self, source: FileInfo, part_size: int) -> bool:
        if source.size == 0:
            return False
        if source.size > self.multipart_threshold:
            return True
        if not self.preserve_multipart_etags:
            return False
        parts = multipart_etag_parts(source.content_id)
        return parts is not None and parts == _part_count(source.size, part_size)

    def _multipart_copy(self, src: str, dst: str, size: int, part_size: int) -> CopyReport:
        src_bucket, src_key = split_s3_uri(src)
        dst_bucket, dst_key = split_s3_uri(dst)
        upload_id = self.client.create_multipart_upload(Bucket=dst_bucket, Key=dst_key)["UploadId"]
        ranges = list(enumerate(_byte_ranges(size, part_size), start=1))
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(ranges)))
        try:
            futures = [
                pool.submit(
                    self._copy_part, src_bucket, src_key, dst_bucket, dst_key, upload_id, n, rng
                )
                for n, rng in ranges
            ]
            parts = [future.result() for future in futures]
            self.client.complete_multipart_upload(
                Bucket=dst_bucket,
                Key=dst_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException as error:
            pool.shutdown(wait=True, cancel_futures=True)
            self.client.abort_multipart_upload(Bucket=dst_bucket, Key=dst_key, UploadId=upload_id)
            if isinstance(error, ClientError) and _is_missing(error):
                raise FileNotFoundError(src) from error
            raise
        pool.shutdown(wait=True)
        return CopyReport("UploadPartCopy", size=size, part_size=part_size, parts=len(parts))

    def _copy_part(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        upload_id: str,
        number: int,
        byte_range: tuple[int, int],
    ) -> dict[str, Any]:
        response = self.client.upload_part_copy(
            Bucket=dst_bucket,
            Key=dst_key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": src_bucket, "Key": src_key},
            CopySourceRange=f"bytes={byte_range[0]}-{byte_range[1]}",
        )
        return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}


def _etag(head: dict[str, Any]) -> str:
    return str(head["ETag"]).strip('"')


def _part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def _byte_ranges(size: int, part_size: int) -> Iterator[tuple[int, int]]:
    """Inclusive byte ranges covering ``size`` (> 0) bytes in ``part_size`` steps."""
    for start in range(0, size, part_size):
        yield start, min(start + part_size, size) - 1
