"""build_cache_step: config blocks and clients -> a working cache step."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ironside.callcache import InMemoryCacheStore, LocalDuplicator, S3Duplicator
from ironside.callcache.docker import RegistryV2Lookup
from ironside.callcache.wiring import (
    build_cache_step,
    build_duplicators,
    build_s3_filesystem,
    parse_size,
    per_region,
)
from ironside.errors import BadConfig
from ironside.filesystems.s3 import GiB, MiB, S3FileSystem


@dataclass(frozen=True)
class Hit:
    outputs: Any
    source: str


def test_sizes() -> None:
    assert parse_size(10, "k") == 10
    assert parse_size("64 MiB", "k") == 64 * MiB
    assert parse_size("5GiB", "k") == 5 * GiB
    with pytest.raises(BadConfig, match="multipart-threshold"):
        parse_size("lots", "filesystems.s3.caching.multipart-threshold")
    with pytest.raises(BadConfig):
        parse_size(0, "k")


def test_per_region_creates_one_client_per_region() -> None:
    made: list[str] = []

    def factory(region: str) -> str:
        made.append(region)
        return f"client-{region}"

    client = per_region(factory)
    assert client("us-east-1") == client("us-east-1") == "client-us-east-1"
    client("eu-west-1")
    assert made == ["us-east-1", "eu-west-1"]


def test_duplicators_and_s3_settings_from_backend_config(s3_client: Any) -> None:
    backend = {
        "filesystems": {
            "local": {"caching": {"duplication-strategy": ["soft-link", "copy"]}},
            "s3": {
                "caching": {"duplication-strategy": "reference", "multipart-threshold": "8 MiB"}
            },
        }
    }
    s3 = build_s3_filesystem(s3_client, backend)
    assert s3.multipart_threshold == 8 * MiB
    duplicator_for = build_duplicators(backend, s3)
    local = duplicator_for("")
    assert isinstance(local, LocalDuplicator) and local.strategies == ("soft-link", "copy")
    remote = duplicator_for("s3")
    assert isinstance(remote, S3Duplicator) and remote.strategy == "reference"
    with pytest.raises(KeyError):
        duplicator_for("gs")
    defaults = build_duplicators(None, S3FileSystem(s3_client))
    assert defaults("s3").strategy == "copy"  # type: ignore[attr-defined]
    assert build_s3_filesystem(s3_client, None).multipart_threshold == 5 * GiB
    with pytest.raises(KeyError):
        build_duplicators(None, None)("s3")


def test_build_cache_step_end_to_end_locally(tmp_path: Path) -> None:
    token = base64.b64encode(b"me:pw").decode()
    step = build_cache_step(
        InMemoryCacheStore(),
        Hit,
        call_caching={"enabled": True, "invalidate-bad-cache-results": True},
        docker_hash_lookup={"ecr": {"num-threads": 2}},
        backend_config={"dockerhub": {"token": token}},
    )
    assert step.enabled
    resolver = step.hasher.resolver
    assert resolver is not None
    assert resolver.workers("ecr") == 2 and "ecr" not in resolver.lookups
    registry = resolver.lookups["dockerhub"]
    assert isinstance(registry, RegistryV2Lookup)
    assert registry.credentials("docker.io") == ("me", "pw")
    resolver.close()
    off = build_cache_step(InMemoryCacheStore(), Hit, call_caching={"enabled": False})
    assert not off.enabled
    with pytest.raises(BadConfig, match="call-caching.enabled"):
        build_cache_step(InMemoryCacheStore(), Hit, call_caching={"enabled": "sometimes"})
