"""``/callcaching/diff`` from stored calls: which hash components differ between two calls.

The engine stores each call's ``callCaching`` metadata (with its hashes) in the
call's row; a diff side is the last attempt of ``(workflow, call, index)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ironside.errors import UserError

from .hashing import DiffSide, diff_response

_KEY_SUFFIX = re.compile(r"(\[\d+\])+$")


class UnknownCall(UserError):
    """No such call in the workflow, or a call without call-cache hashes."""

    http_status = 404


@dataclass(frozen=True)
class CallSpec:
    """One side of a diff request: workflow id, call FQN, shard index (-1: not scattered)."""

    workflow_id: str
    call_fqn: str
    index: int = -1

    def __str__(self) -> str:
        return f"{self.workflow_id}:{self.call_fqn}:{self.index}"


class CallRows(Protocol):
    """What the diff reads from the store (``ironside.store.Store`` has both)."""

    def workflow(self, workflow_id: str) -> dict[str, Any]:
        """The workflow row; raises ``UnknownWorkflow``."""
        ...

    def calls(self, workflow_id: str) -> list[dict[str, Any]]:
        """The workflow's call-attempt rows."""
        ...


def flat_hashes(nested: Mapping[str, Any]) -> dict[str, str]:
    """Undo ``CallHashes.to_metadata``: ``{"input": {"File f": h}}`` -> ``{"input: File f": h}``."""
    flat: dict[str, str] = {}
    for key, value in nested.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}: {name}": str(item) for name, item in value.items()})
        else:
            flat[key] = str(value)
    return flat


def diff_side(store: CallRows, spec: CallSpec) -> DiffSide:
    """The stored side of a diff; UnknownWorkflow / UnknownCall (404) when it is not there."""
    store.workflow(spec.workflow_id)
    rows = [
        row
        for row in store.calls(spec.workflow_id)
        if _KEY_SUFFIX.sub("", row["fqn"]) == spec.call_fqn and row["shard"] == spec.index
    ]
    if not rows:
        raise UnknownCall(f"Cannot find call {spec}")
    row = rows[-1]
    stored = json.loads(row.get("call_caching") or "null")
    if not isinstance(stored, dict) or "hashes" not in stored:
        raise UnknownCall(f"Cannot find call-cache hashes of call {spec}")
    return DiffSide(
        workflow_id=spec.workflow_id,
        call_fqn=spec.call_fqn,
        job_index=spec.index,
        execution_status=str(row["status"]),
        allow_result_reuse=bool(stored.get("allowResultReuse", False)),
        hashes=flat_hashes(stored["hashes"]),
    )


def diff_calls(store: CallRows, a: CallSpec, b: CallSpec) -> dict[str, Any]:
    """The body of ``GET /api/workflows/v1/callcaching/diff`` for two stored calls."""
    return diff_response(diff_side(store, a), diff_side(store, b))
