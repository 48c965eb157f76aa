"""From an evaluated call to its :class:`CallHashes`: digest the image, identify the files.

This is the one place that talks to registries and file systems before
hashing; :func:`ironside.callcache.hashing.call_hashes` stays pure. When the
call cannot be hashed (no digest for a floating tag, a required input that is
gone), the result is a :class:`HashUnavailable`: the call runs uncached and its
metadata carries the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .docker import DigestFound, DockerDigestResolver, ImageRef
from .fileid import FileIdentifier
from .hashing import CallFingerprint, CallHashes, call_hashes, canonical_json, md5_hex


@dataclass(frozen=True)
class FileInput:
    """One file-typed input: its paths in order (``None``: an absent optional file)."""

    paths: Sequence[str | None]
    optional: bool = False


@dataclass(frozen=True)
class HashUnavailable:
    """The call cannot be hashed; it runs without the cache."""

    reason: str


class CallHasher:
    """Hashes evaluated calls with an injected file identifier and digest resolver.

    Without a resolver, only images pinned by digest can be cached.
    """

    def __init__(
        self, identifier: FileIdentifier, resolver: DockerDigestResolver | None = None
    ) -> None:
        self.identifier = identifier
        self.resolver = resolver

    def hash_call(
        self,
        command_template: str,
        backend_name: str,
        runtime_attributes: Mapping[str, Any],
        inputs: Mapping[str, Any],
        file_inputs: Mapping[str, FileInput],
        outputs: Mapping[str, str],
    ) -> CallHashes | HashUnavailable:
        """The call's hashes, or why it has none. Keys are ``"<WDL type> <name>"``."""
        runtime = self.pin_docker(runtime_attributes)
        if isinstance(runtime, HashUnavailable):
            return runtime
        identities: dict[str, list[str | None]] = {}
        for name, file_input in file_inputs.items():
            try:
                ids = self.identifier.identify_input(file_input.paths, file_input.optional)
            except (OSError, ValueError) as error:
                return HashUnavailable(f"cannot identify input {name}: {error}")
            identities[name] = list(ids)
        fingerprint = CallFingerprint(
            command_template, backend_name, runtime, inputs, identities, outputs
        )
        return call_hashes(fingerprint)

    def hash_json_call(
        self,
        command_template: str,
        backend_name: str,
        runtime_attributes: Mapping[str, Any],
        inputs: Mapping[str, Any],
        file_paths: Iterable[str],
        outputs: Mapping[str, str],
    ) -> CallHashes | HashUnavailable:
        """Hash a call whose inputs are JSON values with file paths inside them.

        An input holding any path of ``file_paths`` is a file input: a bare path
        hashes as the file's identity, a compound value (``Array[File]``,
        ``Map[String, File]``, structs) as the MD5 of its canonical JSON with
        every path replaced by its identity. Other inputs hash by value.
        """
        runtime = self.pin_docker(runtime_attributes)
        if isinstance(runtime, HashUnavailable):
            return runtime
        paths = set(file_paths)
        plain: dict[str, Any] = {}
        identities: dict[str, list[str | None]] = {}
        for name, value in inputs.items():
            if not _holds_path(value, paths):
                plain[name] = value
                continue
            try:
                identities[name] = [self._identity_of_value(value, paths)]
            except (OSError, ValueError) as error:
                return HashUnavailable(f"cannot identify input {name}: {error}")
        fingerprint = CallFingerprint(
            command_template, backend_name, runtime, plain, identities, outputs
        )
        return call_hashes(fingerprint)

    def _identity_of_value(self, value: Any, paths: set[str]) -> str:
        if isinstance(value, str):
            return self.identifier.identify(value)
        substituted = _substitute(value, paths, self.identifier.identify)
        return md5_hex(canonical_json(substituted))

    def pin_docker(self, runtime: Mapping[str, Any]) -> dict[str, Any] | HashUnavailable:
        """``runtime`` with ``docker`` replaced by ``name@digest`` (first image of a list)."""
        pinned = dict(runtime)
        image = runtime.get("docker")
        if isinstance(image, list | tuple):
            image = image[0] if image else None
        if not image:
            pinned.pop("docker", None)
            return pinned
        digest = self._digest(str(image))
        if isinstance(digest, HashUnavailable):
            return digest
        pinned["docker"] = digest
        return pinned

    def _digest(self, image: str) -> str | HashUnavailable:
        """``name@digest`` for ``image``, or why there is none."""
        if self.resolver is not None:
            result = self.resolver.resolve(image)
            if isinstance(result, DigestFound):
                return result.pinned
            return HashUnavailable(f"no digest for docker image {image}: {result.reason}")
        try:
            ref = ImageRef.parse(image)
        except ValueError as error:
            return HashUnavailable(str(error))
        if ref.digest is None:
            return HashUnavailable(f"no docker digest lookup configured for {image}")
        return ref.pinned(ref.digest)


def _holds_path(value: Any, paths: set[str]) -> bool:
    """Whether ``value`` (JSON) contains one of ``paths`` as a string."""
    if isinstance(value, str):
        return value in paths
    if isinstance(value, Mapping):
        return any(_holds_path(item, paths) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_path(item, paths) for item in value)
    return False


def _substitute(value: Any, paths: set[str], identify: Callable[[str], str]) -> Any:
    """``value`` with every path in ``paths`` replaced by ``{"file": <identity>}``."""
    if isinstance(value, str):
        return {"file": identify(value)} if value in paths else value
    if isinstance(value, Mapping):
        return {key: _substitute(item, paths, identify) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(item, paths, identify) for item in value]
    return value
