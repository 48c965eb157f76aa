"""The workflow options this backend reads: ``aws_batch_job_role_arn`` and
``aws_batch_script_bucket_prefix``, validated before any AWS call.

Prefix rules are Cromwell's documented ones: unset or ``""`` gives ``scripts/``;
otherwise scripts go directly at the prefix, with a trailing ``/`` added when
missing. Beyond Cromwell, a prefix with a leading ``/``, a ``.`` or ``..``
segment, an empty segment or a character outside S3's safe set is refused.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ironside.errors import BadOptions

from . import values
from .settings import AwsBatchSettings

JOB_ROLE_OPTION = "aws_batch_job_role_arn"
SCRIPT_PREFIX_OPTION = "aws_batch_script_bucket_prefix"
DEFAULT_SCRIPT_PREFIX = "scripts/"
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9!_.*'()-]+$")


@dataclass(frozen=True)
class BatchOptions:
    """The validated workflow options of one workflow, as the backend uses them."""

    job_role_arn: str | None
    script_prefix: str  # always ends with "/"


def script_prefix(value: Any) -> str:
    """The script key prefix for the option's value (``None``/``""`` -> ``scripts/``)."""
    if value is None or value == "":
        return DEFAULT_SCRIPT_PREFIX
    name = SCRIPT_PREFIX_OPTION
    if not isinstance(value, str):
        raise BadOptions(f"{name} must be a string, got {value!r}")
    if value.startswith("/"):
        raise BadOptions(f"{name}={value!r}: must not start with '/' (a key prefix, not a path)")
    segments = value[:-1].split("/") if value.endswith("/") else value.split("/")
    for segment in segments:
        if segment == "":
            raise BadOptions(f"{name}={value!r}: empty segment ('//') is not allowed")
        if segment in (".", ".."):
            raise BadOptions(f"{name}={value!r}: '{segment}' segments are not allowed")
        if not _SAFE_SEGMENT.match(segment):
            raise BadOptions(
                f"{name}={value!r}: segment {segment!r} has characters outside S3's safe set "
                "(A-Z a-z 0-9 ! - _ . * ' ( ) and / between segments)"
            )
    if len(value.encode()) > 900:
        raise BadOptions(f"{name}={value!r}: longer than 900 bytes")
    return value if value.endswith("/") else value + "/"


def job_role_arn(value: Any, settings: AwsBatchSettings) -> str | None:
    """The job role for the option's value: checked form, then the allowed patterns."""
    if value is None or value == "":
        return settings.default_job_role_arn
    try:
        arn = values.role_arn(value)
    except ValueError as err:
        raise BadOptions(f"{JOB_ROLE_OPTION}: {err}") from None
    patterns = settings.allowed_job_role_arns
    if patterns and not any(fnmatch.fnmatchcase(arn, p) for p in patterns):
        raise BadOptions(
            f"{JOB_ROLE_OPTION}={arn!r} is not allowed by this server's allowed-job-role-arns "
            f"({', '.join(patterns)})"
        )
    return arn


def parse_options(options: Mapping[str, Any], settings: AwsBatchSettings) -> BatchOptions:
    """Validate the options this backend reads; ``BadOptions`` says which and why."""
    return BatchOptions(
        job_role_arn=job_role_arn(options.get(JOB_ROLE_OPTION), settings),
        script_prefix=script_prefix(options.get(SCRIPT_PREFIX_OPTION)),
    )
