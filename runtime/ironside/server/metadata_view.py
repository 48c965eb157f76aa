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
    """What a ``/metadata`` request asks for.

    Keys match as Cromwell's do: by prefix (``exec`` selects ``executionStatus`` and
    ``executionEvents``), and ``a:b`` names ``b`` inside ``a`` (``runtimeAttributes:docker``).
    Call-level keys are named from the call (``executionStatus``, not ``calls:...``).
    """

    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    expand: bool = False

    def decide(self, path: str, included: bool = False) -> str:
        """``drop``, ``keep`` (the whole value) or ``descend`` (filter inside) for ``path``."""
        if any(path.startswith(e) for e in self.exclude):
            return DROP
        inside = path + ":"
        if included or not self.include or any(path.startswith(i) for i in self.include):
            return DESCEND_ALL if any(e.startswith(inside) for e in self.exclude) else KEEP
        return DESCEND if any(i.startswith(inside) for i in self.include) else DROP

    def keep(self, key: str, always: tuple[str, ...]) -> bool:
        """Whether a top-level ``key`` survives the filters at all."""
        return key in always or self.decide(key) != DROP

    def wants_subworkflows(self, kept: dict[str, Any]) -> bool:
        """Whether a call entry's sub-workflow is to be inlined (its id survived, or asked)."""
        if not self.expand:
            return False
        return "subWorkflowId" in kept or self.decide("subWorkflowMetadata") != DROP


DROP, KEEP, DESCEND, DESCEND_ALL = "drop", "keep", "descend", "descend-all"


def _filtered(value: Any, path: str, view: MetadataView, included: bool) -> Any:
    """``value`` at ``path`` with what the view drops removed inside it."""
    if not isinstance(value, dict):
        if isinstance(value, list):
            return [_filtered(v, path, view, included) for v in value]
        return value
    out = {}
    for key, inner in value.items():
        sub = f"{path}:{key}" if path else key
        decision = view.decide(sub, included)
        if decision == KEEP:
            out[key] = inner
        elif decision != DROP:
            out[key] = _filtered(inner, sub, view, included or decision == DESCEND_ALL)
    return out


def _filter_call(entry: dict[str, Any], view: MetadataView) -> dict[str, Any]:
    kept = _filtered(entry, "", view, False)
    for key in ALWAYS_CALL:
        if key in entry:
            kept[key] = entry[key]
    return dict(kept)


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
            if any("calls".startswith(e) for e in view.exclude):
                continue
            # no filter at all (the common request): entries as they are, not copied key by key
            keep_all = not view.exclude and (
                not view.include or any("calls".startswith(i) for i in view.include)
            )
            out["calls"] = {
                fqn: [
                    _expand(e if keep_all else _filter_call(e, view), e, view, fetch, depth)
                    for e in entries
                ]
                for fqn, entries in value.items()
            }
        elif key in ALWAYS_TOP:
            out[key] = value
        else:
            decision = view.decide(key)
            if decision == KEEP:
                out[key] = value
            elif decision != DROP:
                out[key] = _filtered(value, key, view, decision == DESCEND_ALL)
    return redact_secrets(out)


def _expand(
    kept: dict[str, Any],
    entry: dict[str, Any],
    view: MetadataView,
    fetch: Callable[[str], Metadata],
    depth: int,
) -> dict[str, Any]:
    sub_id = entry.get("subWorkflowId")
    if not sub_id or not view.wants_subworkflows(kept) or depth >= MAX_DEPTH:
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
