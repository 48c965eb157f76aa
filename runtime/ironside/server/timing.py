"""``GET /api/workflows/v1/{id}/timing``: a self-contained Gantt chart of every call attempt.

The page is plain HTML with inline CSS and JavaScript (no CDN): the call
attempts are embedded as JSON and drawn as one SVG ``rect.bar`` each, a row per
attempt, coloured by execution status, with a time axis, a legend with counts,
a name filter and a tooltip. Rows are 14 px, so 1,000 shards scroll smoothly.
"""

from __future__ import annotations

import html
import json
import secrets
from datetime import datetime
from typing import Any

from ironside.server.timing_page import TEMPLATE

Metadata = dict[str, Any]


def epoch_ms(value: Any) -> float | None:
    """Cromwell's ISO 8601 timestamp -> milliseconds since the epoch (``None`` if absent/bad)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp() * 1000.0
    except ValueError:
        return None


def call_rows(metadata: Metadata, prefix: str = "", depth: int = 0) -> list[dict[str, Any]]:
    """One row per call attempt (sub-workflows' attempts included, their names prefixed)."""
    rows: list[dict[str, Any]] = []
    for fqn, entries in (metadata.get("calls") or {}).items():
        for entry in entries:
            name = prefix + fqn
            rows.append(
                {
                    "name": name,
                    "shard": entry.get("shardIndex", -1),
                    "attempt": entry.get("attempt", 1),
                    "status": entry.get("executionStatus") or entry.get("status") or "Unknown",
                    "start": epoch_ms(entry.get("start")),
                    "end": epoch_ms(entry.get("end")),
                    "backendStatus": entry.get("backendStatus"),
                    "cached": bool((entry.get("callCaching") or {}).get("hit")),
                }
            )
            sub = entry.get("subWorkflowMetadata")
            if isinstance(sub, dict) and depth < 32:
                shard = entry.get("shardIndex", -1)
                label = f"{name}[{shard}]/" if shard not in (-1, None) else f"{name}/"
                rows.extend(call_rows(sub, label, depth + 1))
    rows.sort(key=lambda r: (r["start"] is None, r["start"] or 0, r["name"], r["shard"]))
    return rows


def timing_data(metadata: Metadata, now_ms: float) -> dict[str, Any]:
    """What the page draws: the workflow's header fields and its call attempts."""
    return {
        "id": metadata.get("id"),
        "name": metadata.get("workflowName") or "",
        "status": metadata.get("status") or "",
        "start": epoch_ms(metadata.get("start")),
        "end": epoch_ms(metadata.get("end")),
        "now": now_ms,
        "calls": call_rows(metadata),
    }


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script>``: no ``<``, ``>``, ``&`` or line separators left raw."""
    text = json.dumps(value, separators=(",", ":"))
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_timing(metadata: Metadata, now_ms: float) -> tuple[str, str]:
    """(HTML page, CSP nonce) for the timing chart of ``metadata`` (sub-workflows expanded)."""
    data = timing_data(metadata, now_ms)
    nonce = secrets.token_urlsafe(16)
    page = (
        TEMPLATE.replace("{{TITLE}}", html.escape(f"{data['name']} {data['id']} timing"))
        .replace("{{NONCE}}", nonce)
        .replace("{{DATA}}", _script_json(data))
    )
    return page, nonce
