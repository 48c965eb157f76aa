"""Cromwell-shaped workflow metadata, built from stored rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import Any

from ironside.store.db import Store

_KEY_SUFFIX = re.compile(r"(\[\d+\])+$")


def iso(ts: float | None) -> str | None:
    """UNIX seconds as Cromwell's ISO-8601 UTC timestamp."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _loads(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


def call_entry(row: dict[str, Any], store: Store, expand: bool) -> dict[str, Any]:
    """One element of ``calls[fqn]``."""
    root = row["call_root"]
    ex = os.path.join(root, "execution") if root else ""
    runtime = _loads(row["runtime"], {})
    entry: dict[str, Any] = {
        "shardIndex": row["shard"],
        "attempt": row["attempt"],
        "executionStatus": row["status"],
        "backend": row["backend"],
        "callRoot": root,
        "inputs": _loads(row["inputs"], {}),
        "outputs": _loads(row["outputs"], {}),
        "start": iso(row["started"]),
        "end": iso(row["ended"]),
        "executionEvents": _events(row),
    }
    if row["sub_workflow_id"]:
        entry["subWorkflowId"] = row["sub_workflow_id"]
        if expand:
            entry["subWorkflowMetadata"] = workflow_metadata(store, row["sub_workflow_id"], True)
    else:
        entry.update(
            stdout=os.path.join(ex, "stdout"),
            stderr=os.path.join(ex, "stderr"),
            commandLine=row["command"],
            runtimeAttributes={k: _runtime_str(v) for k, v in runtime.items()},
            returnCode=row["return_code"],
            jobId=row["job_id"],
            callCaching=_call_caching(row),
        )
    if row["failures"]:
        entry["failures"] = _loads(row["failures"], [])
    return entry


def _call_caching(row: dict[str, Any]) -> dict[str, Any]:
    """What the call cache stored for the call, or the bare hit flag when it stored nothing."""
    stored = _loads(row.get("call_caching"), None)
    if isinstance(stored, dict):
        return stored
    return {
        "hit": bool(row["cached"]),
        "effectiveCallCachingMode": "ReadAndWriteCache" if row["cached"] else "CallCachingOff",
    }


def _runtime_str(v: Any) -> Any:
    return v if isinstance(v, str) else json.dumps(v)


def _events(row: dict[str, Any]) -> list[dict[str, Any]]:
    if row["started"] is None:
        return []
    return [
        {
            "description": "Running" if not row["cached"] else "CallCacheReading",
            "startTime": iso(row["started"]),
            "endTime": iso(row["ended"] or row["started"]),
        }
    ]


def workflow_metadata(store: Store, wf_id: str, expand: bool = True) -> dict[str, Any]:
    """The whole metadata document of a workflow (sub-workflows expanded when ``expand``)."""
    wf = store.workflow(wf_id)
    calls: dict[str, list[dict[str, Any]]] = {}
    for row in store.calls(wf_id):
        fqn = _KEY_SUFFIX.sub("", row["fqn"])
        calls.setdefault(fqn, []).append(call_entry(row, store, expand))
    events = store.events(wf_id)
    _merge_backend_metadata(calls, events)
    labels = {"cromwell-workflow-id": f"cromwell-{wf_id}"}
    labels.update(store.labels(wf_id))
    md: dict[str, Any] = {
        "id": wf_id,
        "workflowName": wf["name"],
        "status": wf["status"],
        "submission": iso(wf["submitted"]),
        "start": iso(wf["started"]),
        "end": iso(wf["ended"]),
        "workflowRoot": wf["root"],
        "inputs": _loads(wf["inputs"], {}),
        "outputs": _loads(wf["outputs"], {}),
        "labels": labels,
        "calls": calls,
        "actualWorkflowLanguage": "WDL",
    }
    if wf["parent_id"]:
        md["parentWorkflowId"] = wf["parent_id"]
    else:
        md["submittedFiles"] = {
            "workflow": wf["source"],
            "workflowUrl": wf["workflow_url"],
            "inputs": wf["inputs"],
            "options": wf["options"],
            "labels": json.dumps(store.labels(wf_id)),
        }
    if wf["failures"]:
        md["failures"] = _loads(wf["failures"], [])
    warnings = [e["value"] for e in events if e["key"] == "warning"]
    if warnings:
        md["warnings"] = warnings
    return md


def _merge_backend_metadata(
    calls: dict[str, list[dict[str, Any]]], events: list[dict[str, Any]]
) -> None:
    """Add what the backend said of each attempt (``call-metadata`` events; latest wins)."""
    infos = [_loads(e["value"], {}) for e in events if e["key"] == "call-metadata"]
    if not infos:
        return
    index: dict[tuple[Any, ...], dict[str, Any]] = {}
    for info in infos:
        key = (_KEY_SUFFIX.sub("", str(info.pop("fqn", ""))), info.pop("shard", None))
        index.setdefault((*key, info.pop("attempt", None)), {}).update(info)
    for fqn, entries in calls.items():
        for entry in entries:
            extra = index.get((fqn, entry["shardIndex"], entry["attempt"]))
            if extra:
                entry.update(extra)
