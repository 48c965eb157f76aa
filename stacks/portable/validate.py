"""Checks on the packager's input, run before anything is synthesized or uploaded."""

from __future__ import annotations

import ipaddress
import re

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


class BadInput(ValueError):
    """The packager's input is invalid; the message is one line a person can act on."""


def check_bucket(name: str | None) -> str:
    """The bucket name if it follows S3's general purpose bucket naming rules."""
    if not name:
        raise BadInput("BUCKET is required: make package BUCKET=<distribution bucket>")
    problem = _bucket_problem(name)
    if problem:
        raise BadInput(f"BUCKET {name!r} is not a valid S3 bucket name: {problem}")
    return name


def _bucket_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        return "it must be 3 to 63 characters long"
    if not _BUCKET_RE.match(name):
        return (
            "use lowercase letters, digits, dots and hyphens; begin and end with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return "dots may not be doubled or next to a hyphen"
    if _is_ip_address(name):
        return "it may not look like an IP address"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "it uses a prefix or suffix S3 reserves"
    return None


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def check_prefix(prefix: str, what: str = "PREFIX") -> str:
    """The key prefix without surrounding slashes, if it is made of safe key characters."""
    stripped = prefix.strip("/")
    if not stripped or len(stripped) > 200 or not _PREFIX_RE.match(stripped):
        raise BadInput(
            f"{what} {prefix!r} is not a valid key prefix: use letters, digits, '.', '_', '-' "
            "and '/' between parts (at most 200 characters)"
        )
    return stripped
