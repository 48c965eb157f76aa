"""Small validators shared by settings, runtime attributes and workflow options.

Each returns the normalised value or raises ``ValueError`` with a short reason;
callers wrap the reason in the right ``UserError`` naming the key.
"""

from __future__ import annotations

import math
import re
from typing import Any

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
QUEUE_ARN = re.compile(r"^arn:aws[a-z-]*:batch:[a-z0-9-]+:\d{12}:job-queue/[A-Za-z0-9_-]{1,128}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")

_MEMORY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
_UNITS = {
    "": 1,
    "B": 1,
    "K": 1000,
    "KB": 1000,
    "M": 1000**2,
    "MB": 1000**2,
    "G": 1000**3,
    "GB": 1000**3,
    "T": 1000**4,
    "TB": 1000**4,
    "KI": 1024,
    "KIB": 1024,
    "MI": 1024**2,
    "MIB": 1024**2,
    "GI": 1024**3,
    "GIB": 1024**3,
    "TI": 1024**4,
    "TIB": 1024**4,
}
MEMORY_FORMS = (
    "an integer of bytes or '<number> <unit>' with unit B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
)


def bucket_name(value: Any) -> str:
    """An S3 bucket name (3-63 chars, lowercase letters, digits, '.', '-')."""
    if not isinstance(value, str) or not _BUCKET.match(value):
        raise ValueError(f"{value!r} is not an S3 bucket name (3-63 of a-z 0-9 . -)")
    if ".." in value or _IPV4.match(value) or ".-" in value or "-." in value:
        raise ValueError(f"{value!r} is not an S3 bucket name")
    return value


def s3_uri(value: Any) -> tuple[str, str]:
    """Split ``s3://bucket[/prefix]`` into (bucket, prefix without slashes at its ends)."""
    if not isinstance(value, str) or not value.startswith("s3://"):
        raise ValueError(f"{value!r} is not an s3://bucket/prefix URI")
    bucket, _, prefix = value[len("s3://") :].partition("/")
    return bucket_name(bucket), prefix.strip("/")


def queue_arn(value: Any) -> str:
    """A Batch job queue ARN."""
    if not isinstance(value, str) or not QUEUE_ARN.match(value):
        raise ValueError(
            f"{value!r} is not a job queue ARN "
            "(arn:<partition>:batch:<region>:<12 digits>:job-queue/<name>)"
        )
    return value


def role_arn(value: Any) -> str:
    """An IAM role ARN."""
    if not isinstance(value, str) or not ROLE_ARN.match(value):
        raise ValueError(
            f"{value!r} is not an IAM role ARN (arn:<partition>:iam::<12 digits>:role/<path+name>)"
        )
    return value


def integer(value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """An integer (ints, integral floats and numeric strings accepted) within [low, high]."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    if low is not None and value < low:
        raise ValueError(f"{value} is below {low}")
    if high is not None and value > high:
        raise ValueError(f"{value} is above {high}")
    return value


def boolean(value: Any) -> bool:
    """A boolean (also the strings true/false, as HOCON and WDL may give them)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{value!r} is not a boolean")


def memory_bytes(value: Any) -> int:
    """Bytes of a WDL memory value: an int of bytes or e.g. ``"2 GB"``, ``"512MiB"``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a memory size")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    elif isinstance(value, str) and (m := _MEMORY.match(value)):
        number, unit = float(m.group(1)), m.group(2).upper()
    else:
        raise ValueError(f"{value!r} is not a memory size")
    if unit not in _UNITS:
        raise ValueError(f"{value!r} has an unknown unit {unit!r}")
    size = number * _UNITS[unit]
    if size <= 0:
        raise ValueError(f"{value!r} is not a positive size")
    return math.ceil(size)


def mebibytes(value: Any) -> int:
    """A memory value rounded up to whole MiB, as Batch wants it."""
    return math.ceil(memory_bytes(value) / 1024**2)
