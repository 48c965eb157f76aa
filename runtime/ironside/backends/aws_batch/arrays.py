"""Array jobs: a scatter's alike shards in one SubmitJob per chunk of up to 10,000.

Which attempts go together: first attempts of one call of one workflow whose job
would be the same but for its script (same definition, queue, cpu, memory, GPUs,
script prefix); ``group`` splits them into chunks of at most ``ARRAY_SIZE_MAX``
and leaves groups smaller than the configured minimum to single jobs. Retries
are always single jobs, with the new attempt's resources.

How a child finds its script: one packed object an array. The array's scripts
go up as one object, ``<script prefix>arrays/<workflow id>/<array name>/scripts``:
a table of fixed-width entries, one a child (``ENTRY_BYTES`` each: the script's
byte offset and length, 20 decimal digits each, a space between, a newline
after), then the scripts one after another. The job's ``BATCH_FILE_TYPE`` is
``packed`` and its ``BATCH_FILE_S3_URL`` that object; ``fetch_and_run.sh`` reads
the entry at ``AWS_BATCH_JOB_ARRAY_INDEX * ENTRY_BYTES`` with one ranged GET and
the script with a second, and checks the script's length against the entry. So
an array of 10,000 children costs one PUT, not 10,000, and a child still makes
two requests, as a single job does (HEAD, GET). Cache hits never reach the
backend, so indices are dense over the attempts that do run.

What a restarted engine reads: ``<prefix>manifest.json``, written (after the
scripts) before the SubmitJob, names the attempt (its single-job name) and call root at each index.
The array's job name is derived from its members, so an attempt whose job id
was not stored is found as ``<array job id>:<index>`` (the manifest gives the
array name and index, ListJobs by name the array's id); a manifest whose array
Batch does not know was never submitted.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from .settings import ARRAY_SIZE_MAX

T = TypeVar("T")
MANIFEST = "manifest.json"
PACKED = "scripts"
#: A table entry of the packed object: b"<offset:020d> <length:020d>\n".
ENTRY_BYTES = 42
#: A packed object up to this size is built in memory, above it in a temporary file.
SPOOL_BYTES = 8 << 20
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def child_id(array_id: str, index: int) -> str:
    """The job id of child ``index`` of an array job, as AWS Batch forms it."""
    return f"{array_id}:{index}"


def array_of(job_id: str) -> str | None:
    """The array job id of a child's id (``None`` for a job that is no array child)."""
    parent, sep, index = job_id.rpartition(":")
    return parent if sep and index.isdigit() else None


def array_name(call_fqn: str, workflow_id: str, member_names: Sequence[str]) -> str:
    """A Batch-safe job name that only these members (in this order) give."""
    digest = hashlib.sha256("\n".join(member_names).encode()).hexdigest()[:16]
    call = _UNSAFE_NAME.sub("_", call_fqn.replace(".", "-")).strip("_")[:60]
    return f"{call}-array-{digest}-{workflow_id}"[:128]


def array_prefix(script_prefix: str, workflow_id: str, name: str) -> str:
    """The key prefix (ending in ``/``) of an array's scripts and manifest."""
    return f"{script_prefix}arrays/{workflow_id}/{name}/"


def group(
    items: Sequence[T], key: Callable[[T], Hashable | None], min_size: int
) -> tuple[list[list[T]], list[T]]:
    """(chunks that go as arrays, items that go as single jobs), input order kept.

    ``key`` None: never in an array. Groups are cut into chunks of at most
    ``ARRAY_SIZE_MAX``; a chunk smaller than ``min_size`` goes as single jobs.
    """
    groups: dict[Hashable, list[T]] = {}
    singles: list[T] = []
    for item in items:
        k = key(item)
        if k is None:
            singles.append(item)
        else:
            groups.setdefault(k, []).append(item)
    arrays: list[list[T]] = []
    for members in groups.values():
        for start in range(0, len(members), ARRAY_SIZE_MAX):
            chunk = members[start : start + ARRAY_SIZE_MAX]
            if len(chunk) >= min_size:
                arrays.append(chunk)
            else:
                singles.extend(chunk)
    return arrays, singles


def write_packed(out: IO[bytes], scripts: Sequence[str]) -> None:
    """Write the table of ``scripts`` and then the scripts themselves to ``out``."""
    offset = ENTRY_BYTES * len(scripts)
    out.seek(offset)
    table = bytearray()
    for script in scripts:
        body = script.encode()
        out.write(body)
        table += b"%020d %020d\n" % (offset, len(body))
        offset += len(body)
    out.seek(0)
    out.write(table)


def read_packed(packed: bytes, index: int) -> bytes:
    """The script at ``index`` of a packed object (what ``fetch_and_run.sh`` reads)."""
    entry = packed[index * ENTRY_BYTES : (index + 1) * ENTRY_BYTES]
    offset, length = (int(field) for field in entry.split())
    return packed[offset : offset + length]


@dataclass(frozen=True)
class Member:
    """One attempt at its index in an array: its single-job name and call root."""

    job_name: str
    call_root: str


class ArrayStager:
    """Writes an array's scripts and manifest; finds an attempt's array after a restart."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.puts = 0
        self._lock = threading.Lock()
        self._staged: set[str] = set()
        #: (script prefix, workflow id) -> single-job name -> [(array name, index)]
        self._found: dict[tuple[str, str], dict[str, list[tuple[str, int]]]] = {}

    def stage(
        self, prefix: str, name: str, scripts: Sequence[str], members: Sequence[Member]
    ) -> str:
        """PUT the packed scripts, then the manifest; the packed object's ``s3://`` URL.

        Idempotent; an array already staged by this process is not staged again.
        """
        key = prefix + PACKED
        if prefix not in self._staged:
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as packed:
                write_packed(packed, scripts)
                packed.seek(0)
                self._put(key, packed, "application/octet-stream")
            manifest = {
                "arrayJobName": name,
                "members": [{"jobName": m.job_name, "callRoot": m.call_root} for m in members],
            }
            self._put(f"{prefix}{MANIFEST}", json.dumps(manifest).encode(), "application/json")
            with self._lock:
                self._staged.add(prefix)
        return f"s3://{self.bucket}/{key}"

    def _put(self, key: str, body: Any, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        with self._lock:
            self.puts += 1

    def places(self, script_prefix: str, workflow_id: str, job_name: str) -> list[tuple[str, int]]:
        """Every (array name, index) a manifest of the workflow gives the attempt ``job_name``.

        The manifests are listed and read once per workflow (after a restart).
        """
        key = (script_prefix, workflow_id)
        if key not in self._found:
            self._found[key] = self._read_manifests(f"{script_prefix}arrays/{workflow_id}/")
        return self._found[key].get(job_name, [])

    def _read_manifests(self, under: str) -> dict[str, list[tuple[str, int]]]:
        found: dict[str, list[tuple[str, int]]] = {}
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": under}
        while True:
            page = self._s3.list_objects_v2(**args)
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/" + MANIFEST):
                    body = self._s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                    manifest = json.loads(body)
                    for index, member in enumerate(manifest["members"]):
                        place = (manifest["arrayJobName"], index)
                        found.setdefault(member["jobName"], []).append(place)
            if not page.get("IsTruncated"):
                return found
            args["ContinuationToken"] = page["NextContinuationToken"]
