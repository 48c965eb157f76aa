"""The call-cache seam in the call path: lookup before submit, record after success.

The engine builds a ``CallFingerprint`` for each call attempt it is about to
run (only when the cache step is ``enabled``), asks ``lookup``; a hit's outputs
become the call's outputs without running anything. After a call succeeds the
engine hands its outputs to ``record``. ``NoCache`` is the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class CallFingerprint:
    """Everything the cache hashes about one call attempt.

    ``inputs`` are the task's evaluated input values as JSON (File values are
    paths, local or ``s3://``; ``input_files`` lists them all). ``output_expressions``
    maps each output name to ``"<type> <name> = <expression>"`` as written.
    ``task_meta`` is the task's ``meta`` section (``volatile: true`` turns caching off).
    """

    workflow_id: str
    call_fqn: str
    shard: int
    attempt: int
    task_name: str
    command_template: str
    command: str
    backend: str
    runtime: Mapping[str, Any]
    inputs: Mapping[str, Any]
    input_files: Sequence[str]
    output_expressions: Mapping[str, str]
    call_root: str
    options: Mapping[str, Any]
    task_meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CacheHit:
    """A usable cache entry: the outputs (JSON, file paths already valid for this call)."""

    outputs: Mapping[str, Any]
    source: str  # e.g. "<workflow id>:<fqn>:<shard>" of the call the result came from


class CacheStep(Protocol):
    """What the engine calls; the call-caching package provides the real one."""

    enabled: bool

    def lookup(self, fp: CallFingerprint) -> CacheHit | None:
        """A hit to reuse, or ``None`` to run the call (honour ``read_from_cache``)."""
        ...

    def record(self, fp: CallFingerprint, outputs: Mapping[str, Any]) -> None:
        """Remember a successful call's outputs (honour ``write_to_cache``)."""
        ...


class NoCache:
    """The default cache step: never hits, remembers nothing."""

    enabled = False

    def lookup(self, fp: CallFingerprint) -> CacheHit | None:
        """Never a hit."""
        return None

    def record(self, fp: CallFingerprint, outputs: Mapping[str, Any]) -> None:
        """Nothing to record."""
