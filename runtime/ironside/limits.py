"""Bounds on what one submission can cost, read from ``ironside.limits`` in the HOCON config.

Each limit is checked as early as it can be: sizes and counts of the submitted
files before anything is parsed or stored, import count and depth while imports
are resolved, nesting depth after parsing, shards when a scatter (or a
``range()``) is about to be built, calls when a call is started. Exceeding one is
a ``LimitExceeded`` (a ``UserError``: 400 on the server, one line and exit 2 on
``ironside run``) naming the limit's config key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ironside.errors import BadConfig, LimitExceeded

MB = 1024 * 1024
PREFIX = "ironside.limits"


@dataclass(frozen=True)
class Limits:
    """Per-submission bounds; field ``max_scatter_shards`` is key ``max-scatter-shards``."""

    max_wdl_bytes: int = 1 * MB  # each WDL document (the main one and every import)
    max_imports: int = 100  # documents imported, all levels together
    max_import_depth: int = 10  # import chains (a imports b imports c: depth 2)
    max_nesting_depth: int = 40  # scatter / if / call blocks inside one another
    max_scatter_shards: int = 1_000_000  # shards of one scatter, elements of one range()
    max_calls: int = 2_000_000  # calls started by one workflow (sub-workflows included)
    max_inputs_bytes: int = 10 * MB  # the inputs JSON (all workflowInputs parts together)
    max_imports_zip_bytes: int = 100 * MB  # the -p imports zip of ``ironside run``
    max_labels: int = 100  # labels per workflow (keys and values are at most 255 characters)
    max_http_input_bytes: int = 100 * 1024 * MB  # each http(s) File the engine downloads

    @staticmethod
    def key(name: str) -> str:
        """The config key of a field: ``ironside.limits.max-scatter-shards``."""
        return f"{PREFIX}.{name.replace('_', '-')}"

    def check(self, name: str, value: int, what: str) -> None:
        """``LimitExceeded`` when ``value`` is over the limit ``name``."""
        bound = int(getattr(self, name))
        if value > bound:
            raise LimitExceeded(
                f"{what}: {value} is more than the {bound} allowed ({self.key(name)})"
            )


def limits_from_config(block: Mapping[str, Any] | None) -> Limits:
    """``Limits`` from the ``ironside.limits`` block (missing keys keep their defaults)."""
    block = block or {}
    known = {f.name.replace("_", "-"): f.name for f in fields(Limits)}
    values: dict[str, int] = {}
    for key, raw in block.items():
        if key not in known:
            raise BadConfig(f"config: {PREFIX}.{key} is not a known limit ({', '.join(known)})")
        if isinstance(raw, bool) or not str(raw).strip().isdigit():
            raise BadConfig(f"config: {PREFIX}.{key} must be a non-negative integer, got {raw!r}")
        values[known[key]] = int(str(raw).strip())
    return Limits(**values)


class Budget:
    """What one top-level workflow (with its sub-workflows) has used of its ``Limits``."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.calls = 0

    def shards(self, count: int, what: str) -> None:
        """A scatter (or ``range()``) of ``count`` elements (``what``) is about to be built."""
        self.limits.check("max_scatter_shards", count, what)

    def call(self, where: str) -> None:
        """One more call is being started."""
        self.calls += 1
        self.limits.check("max_calls", self.calls, f"{where}: calls started by this workflow")
