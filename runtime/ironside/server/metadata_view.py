"""Views over Cromwell-shaped metadata: includeKey/excludeKey, expandSubWorkflows, logs, secrets.

The engine returns each workflow's metadata with sub-workflows referenced by
``subWorkflowId``; ``MetadataView`` filters it the way Cromwell does and, when
asked, replaces each reference with the (equally filtered) sub-workflow's
metadata under ``subWorkflowMetadata``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Metadata = dict[str, Any]
ALWAYS_TOP = ("id",)
ALWAYS_CALL = ("shardIndex", "attempt")
MAX_DEPTH = 32
SECRET_KEY = re.compile(r"secret|token|password|passwd|credential|private|service_account", re.I)
REDACTED = "[redacted]"


@dataclass(frozen=True)
class MetadataView:
    """What a ``/metadata`` request asks for."""

    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    expand: bool = False

    def keep(self, key: str, always: tuple[str, ...]) -> bool:
        """Whether ``key`` survives the include/exclude filters."""
        if key in self.exclude:
            return False
        return not self.include or key in self.include or key in always

    def wants_subworkflows(self) -> bool:
        """Whether sub-workflow metadata is to be inlined."""
        return self.expand and self.keep("subWorkflowMetadata", ())


def _filter_call(entry: dict[str, Any], view: MetadataView) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if view.keep(k, ALWAYS_CALL)}


def apply_view(
    metadata: Metadata,
    view: MetadataView,
    fetch: Callable[[str], Metadata],
    depth: int = 0,
) -> Metadata:
    """``metadata`` filtered by ``view``; sub-workflows fetched with ``fetch`` and inlined."""
    out: Metadata = {}
    for key, value in metadata.items():
        if key == "calls" and isinstance(value, dict):
            if "calls" in view.exclude:
                continue
            # no filter at all (the common request): entries as they are, not copied key by key
            keep_all = "calls" in view.include or not (view.include or view.exclude)
            out["calls"] = {
                fqn: [
                    _expand(e if keep_all else _filter_call(e, view), e, view, fetch, depth)
                    for e in entries
                ]
                for fqn, entries in value.items()
            }
        elif view.keep(key, ALWAYS_TOP):
            out[key] = value
    return redact_secrets(out)


def _expand(
    kept: dict[str, Any],
    entry: dict[str, Any],
    view: MetadataView,
    fetch: Callable[[str], Metadata],
    depth: int,
) -> dict[str, Any]:
    sub_id = entry.get("subWorkflowId")
    if not sub_id or not view.wants_subworkflows() or depth >= MAX_DEPTH:
        return kept
    kept = dict(kept)
    kept["subWorkflowMetadata"] = apply_view(fetch(str(sub_id)), view, fetch, depth + 1)
    return kept


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY.search(k) else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def redact_options(text: str) -> str:
    """A workflow options JSON document with secret-looking values replaced."""
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text
    return json.dumps(_redact(parsed))


def redact_secrets(metadata: Metadata) -> Metadata:
    """Hide secret-looking workflow options in ``submittedFiles.options``."""
    files = metadata.get("submittedFiles")
    if isinstance(files, dict) and isinstance(files.get("options"), str):
        metadata = dict(metadata)
        metadata["submittedFiles"] = {**files, "options": redact_options(files["options"])}
    return metadata


def logs_of(metadata: Metadata) -> Metadata:
    """Cromwell's ``/logs``: each call attempt's stdout and stderr."""
    calls: dict[str, list[dict[str, Any]]] = {}
    for fqn, entries in (metadata.get("calls") or {}).items():
        for entry in entries:
            if "stdout" not in entry and "stderr" not in entry:
                continue
            item = {
                k: entry[k]
                for k in ("stdout", "stderr", "backendLogs", "shardIndex", "attempt")
                if k in entry
            }
            calls.setdefault(fqn, []).append(item)
    return {"id": metadata.get("id"), "calls": calls}


def outputs_of(metadata: Metadata) -> Metadata:
    """Cromwell's ``/outputs``: the workflow's outputs so far."""
    return {"id": metadata.get("id"), "outputs": metadata.get("outputs") or {}}


def failed_jobs(metadata: Metadata) -> Metadata:
    """Cromwell's ``/metadata/failed-jobs``: only failed call attempts, sub-workflows inlined."""
    calls: dict[str, list[dict[str, Any]]] = {}
    for fqn, entries in (metadata.get("calls") or {}).items():
        kept = []
        for entry in entries:
            sub = entry.get("subWorkflowMetadata")
            if isinstance(sub, dict):
                inner = failed_jobs(sub)
                if inner["calls"]:
                    kept.append({**entry, "subWorkflowMetadata": inner})
            elif entry.get("executionStatus") == "Failed":
                kept.append(entry)
        if kept:
            calls[fqn] = kept
    return {"id": metadata.get("id"), "calls": calls}
