"""The operator's AWS CLI v2 bundle (``awsCliBundleDir``), checked before it ships.

The directory holds ``awscli-exe-linux-<arch>.zip`` for each architecture the Batch
compute environments use, as downloaded from awscli.amazonaws.com (whose PGP signature
the operator verified, as AWS documents), and ``SHA256SUMS`` listing them in
``sha256sum`` format. Synthesis refuses a directory whose sums do not match; the hosts
check ``SHA256SUMS`` against the template's SHA-256 and their own zip against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

SUMS = "SHA256SUMS"


def bundle_name(arch: str) -> str:
    """The bundle's file name for a ``uname -m`` architecture (``x86_64``, ``aarch64``)."""
    return f"awscli-exe-linux-{arch}.zip"


def check_bundle_dir(directory: Path, architectures: Iterable[str]) -> str:
    """The SHA-256 of ``SHA256SUMS``; ``ValueError`` saying what is wrong otherwise."""
    sums = directory / SUMS
    if not sums.is_file():
        raise ValueError(f"{directory} has no {SUMS}")
    listed = {}
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition(" ")
        if line.strip():
            listed[name.strip().lstrip("*")] = digest.lower()
    for arch in sorted(set(architectures)):
        name = bundle_name(arch)
        if name not in listed:
            raise ValueError(f"{SUMS} in {directory} does not list {name}")
        path = directory / name
        if not path.is_file():
            raise ValueError(f"{path} is missing")
        if hashlib.sha256(path.read_bytes()).hexdigest() != listed[name]:
            raise ValueError(f"{path} does not match its SHA-256 in {SUMS}")
    return hashlib.sha256(sums.read_bytes()).hexdigest()
