"""Cromwell-shaped workflow metadata, built from stored rows."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from json.decoder import JSONDecoder
from json.scanner import make_scanner
from typing import Any

from ironside.store.db import Store

_KEY_SUFFIX = re.compile(r"(\[\d+\])+$")


_from_timestamp = dt.datetime.fromtimestamp
_UTC = dt.UTC
# the scanner json.loads uses (typeshed types its argument as a scanner, not a decoder)
_scan_json = make_scanner(JSONDecoder())  # type: ignore[arg-type]


def iso(ts: float | None) -> str | None:
    """UNIX seconds as Cromwell's ISO-8601 UTC timestamp (milliseconds, truncated)."""
    if ts is None:
        return None
    # isoformat in C: 2.5x faster than strftime; "+00:00" -> "Z"
    return _from_timestamp(ts, _UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _loads(text: str | None, default: Any) -> Any:
    """``json.loads(text)``, or ``default`` for an empty column.

    Scans with the C scanner directly (the rows are short, so ``json.loads``' Python
    wrapper costs more than the parse); anything but one whole JSON value goes to
    ``json.loads``, which parses it or raises as always.
    """
    if not text:
        return default
    try:
        value, end = _scan_json(text, 0)
    except (StopIteration, TypeError):
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def call_entry(
    row: dict[str, Any],
    store: Store,
    expand: bool,
    runtimes: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One element of ``calls[fqn]`` (``runtimes``: runtime attributes by stored text, reused)."""
    root = row["call_root"]
    ex = os.path.join(root, "execution") if root else ""
    start = iso(row["started"])
    end = iso(row["ended"])
    entry: dict[str, Any] = {
        "shardIndex": row["shard"],
        "attempt": row["attempt"],
        "executionStatus": row["status"],
        "backend": row["backend"],
        "callRoot": root,
        "inputs": _loads(row["inputs"], {}),
        "outputs": _loads(row["outputs"], {}),
        "start": start,
        "end": end,
        "executionEvents": _events(row, start, end),
    }
    if row["sub_workflow_id"]:
        entry["subWorkflowId"] = row["sub_workflow_id"]
        if expand:
            entry["subWorkflowMetadata"] = workflow_metadata(store, row["sub_workflow_id"], True)
    else:
        entry.update(
            stdout=ex + "/stdout" if ex else "stdout",  # os.path.join(ex, ...): ex ends "execution"
            stderr=ex + "/stderr" if ex else "stderr",
            commandLine=row["command"],
            runtimeAttributes=_runtime_attributes(row["runtime"], runtimes),
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


def _runtime_attributes(
    text: str | None, runtimes: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """Runtime attributes as Cromwell shows them (strings); a copy per call."""
    if runtimes is None or not text:
        return {k: _runtime_str(v) for k, v in _loads(text, {}).items()}
    attributes = runtimes.get(text)
    if attributes is None:  # the shards of a scatter mostly share one runtime text
        attributes = runtimes[text] = {k: _runtime_str(v) for k, v in _loads(text, {}).items()}
    return dict(attributes)  # values are strings: a shallow copy is a full one


def _runtime_str(v: Any) -> Any:
    return v if isinstance(v, str) else json.dumps(v)


def _events(row: dict[str, Any], start: str | None, end: str | None) -> list[dict[str, Any]]:
    """``executionEvents``; ``start``/``end``: ``iso`` of the row's started/ended."""
    if row["started"] is None:
        return []
    return [
        {
            "description": "Running" if not row["cached"] else "CallCacheReading",
            "startTime": start,
            "endTime": end if row["ended"] else start,
        }
    ]


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while metadata is built.

    Everything a build allocates stays alive until the document is used, so collections
    during it free nothing; on 10,000 calls they took a third of the time. Reference
    counting still frees what it always does. The collector is on again when the last of
    the builds running at once (threads, nested sub-workflows) ends, if it was on before.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def workflow_metadata(store: Store, wf_id: str, expand: bool = True) -> dict[str, Any]:
    """The whole metadata document of a workflow (sub-workflows expanded when ``expand``)."""
    with _gc_paused():
        return _workflow_metadata(store, wf_id, expand)


def _workflow_metadata(store: Store, wf_id: str, expand: bool) -> dict[str, Any]:
    wf = store.workflow(wf_id)
    calls: dict[str, list[dict[str, Any]]] = {}
    keys: dict[str, str] = {}  # stored fqn -> its key in ``calls`` (few distinct)
    runtimes: dict[str, dict[str, Any]] = {}
    for row in store.calls(wf_id):
        fqn = keys.get(row["fqn"])
        if fqn is None:
            fqn = keys[row["fqn"]] = _KEY_SUFFIX.sub("", row["fqn"])
        calls.setdefault(fqn, []).append(call_entry(row, store, expand, runtimes))
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
