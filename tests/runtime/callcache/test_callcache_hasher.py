"""CallHasher: docker pinning and file identities feeding the call hash."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from ironside.callcache import (
    CallHasher,
    CallHashes,
    DockerDigestResolver,
    DockerHashLookupSettings,
    FileIdentifier,
    FileInput,
    HashUnavailable,
)
from ironside.callcache.docker import ImageRef, LookupFailed, dockerhub_credentials
from ironside.callcache.hashing import EMPTY_MD5, md5_hex
from ironside.errors import BadConfig

DIGEST = "sha256:" + "f" * 64


class FakeLookup:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def digest(self, ref: ImageRef) -> str:
        self.asked.append(f"{ref.repository}:{ref.tag}")
        if ref.tag == "missing":
            raise LookupFailed(f"{ref.name}:{ref.tag}: manifest not found")
        return DIGEST


@pytest.fixture
def resolver() -> DockerDigestResolver:
    return DockerDigestResolver(DockerHashLookupSettings(), {"dockerhub": FakeLookup()})


def hash_with(
    hasher: CallHasher, runtime: dict[str, object], files: dict[str, FileInput]
) -> object:
    return hasher.hash_call("cmd ~{f}", "Local", runtime, {"Int n": 1}, files, {"File o": '"o"'})


def test_floating_tag_is_pinned_and_hashes_like_the_pinned_image(
    tmp_path: Path, resolver: DockerDigestResolver
) -> None:
    hasher = CallHasher(FileIdentifier(), resolver)
    floating = hash_with(hasher, {"docker": "ubuntu:22.04"}, {})
    pinned = hash_with(hasher, {"docker": f"ubuntu@{DIGEST}"}, {})
    as_list = hash_with(hasher, {"docker": ["ubuntu:22.04", "other:1"]}, {})
    assert isinstance(floating, CallHashes)
    assert floating.components["runtime attribute: docker"] == md5_hex(f"ubuntu@{DIGEST}")
    assert isinstance(pinned, CallHashes) and isinstance(as_list, CallHashes)
    assert floating.aggregate == pinned.aggregate == as_list.aggregate
    resolver.close()


def test_unavailable_digest_makes_the_call_unhashable(resolver: DockerDigestResolver) -> None:
    result = hash_with(CallHasher(FileIdentifier(), resolver), {"docker": "ubuntu:missing"}, {})
    assert isinstance(result, HashUnavailable)
    assert "ubuntu:missing" in result.reason and "manifest not found" in result.reason
    no_resolver = hash_with(CallHasher(FileIdentifier()), {"docker": "ubuntu:22.04"}, {})
    assert isinstance(no_resolver, HashUnavailable)
    assert "no docker digest lookup" in no_resolver.reason
    pinned = hash_with(CallHasher(FileIdentifier()), {"docker": f"ubuntu@{DIGEST}"}, {})
    assert isinstance(pinned, CallHashes)
    no_docker = hash_with(CallHasher(FileIdentifier()), {}, {})
    assert isinstance(no_docker, CallHashes)
    assert no_docker.components["runtime attribute: docker"] == md5_hex("N/A")
    resolver.close()


def test_file_identities(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"content")
    hasher = CallHasher(FileIdentifier())
    result = hash_with(
        hasher,
        {},
        {"File f": FileInput([str(path)]), "File? g": FileInput([None], optional=True)},
    )
    assert isinstance(result, CallHashes)
    assert result.components["input: File f"] == hashlib.md5(b"content").hexdigest()
    assert result.components["input: File? g"] == EMPTY_MD5
    missing = hash_with(hasher, {}, {"File f": FileInput([str(tmp_path / "gone")])})
    assert isinstance(missing, HashUnavailable) and "File f" in missing.reason
    other_scheme = hash_with(hasher, {}, {"File f": FileInput(["gs://bucket/x"])})
    assert isinstance(other_scheme, HashUnavailable) and "gs://" in other_scheme.reason


def test_dockerhub_credentials() -> None:
    token = base64.b64encode(b"me:secret").decode()
    creds = dockerhub_credentials(token)
    assert creds("docker.io") == ("me", "secret")
    assert creds("quay.io") is None
    assert dockerhub_credentials(None)("docker.io") is None
    with pytest.raises(BadConfig):
        dockerhub_credentials("not base64!")
    with pytest.raises(BadConfig):
        dockerhub_credentials(base64.b64encode(b"nocolon").decode())
