"""``/api/workflows/v1/query``: Cromwell's query parameters, filtering, paging and result shape.

GET takes a query string (keys may repeat); POST takes a JSON list of
single-key objects (``[{"status": "Running"}, {"name": "hello"}]``). Both
become one ``WorkflowQuery``; unknown keys and bad values are a 400.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ironside.errors import UserError
from ironside.metadata import iso
from ironside.server.engine_port import STATUSES, WorkflowSummary

MULTI_KEYS = ("status", "name", "id", "label", "labelor", "excludeLabelAnd", "excludeLabelOr")
SINGLE_KEYS = ("submission", "start", "end", "page", "pageSize", "includeSubworkflows")
ADDITIONAL = ("additionalQueryResultFields",)
ALL_KEYS = frozenset(MULTI_KEYS + SINGLE_KEYS + ADDITIONAL)
ADDITIONAL_FIELDS = frozenset({"labels", "parentWorkflowId"})


@dataclass(frozen=True)
class WorkflowQuery:
    """A parsed query: every list is OR-ed within itself (``label`` is AND-ed), AND-ed across."""

    statuses: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    labels_all: tuple[tuple[str, str], ...] = ()
    labels_any: tuple[tuple[str, str], ...] = ()
    exclude_all: tuple[tuple[str, str], ...] = ()
    exclude_any: tuple[tuple[str, str], ...] = ()
    submission: float | None = None
    start: float | None = None
    end: float | None = None
    page: int | None = None
    page_size: int | None = None
    include_subworkflows: bool = True
    additional: frozenset[str] = frozenset()


def parse_time(key: str, text: str) -> float:
    """An ISO 8601 date-time (``Z`` or an offset; naive means UTC) -> UNIX seconds."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{key}: {text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _label(key: str, text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name:
        raise UserError(f"{key}: label {text!r} must be given as key:value")
    return name, value


def _positive(key: str, text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise UserError(f"{key}: {text!r} is not an integer") from None
    if number < 1:
        raise UserError(f"{key}: must be at least 1")
    return number


def _bool(key: str, text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise UserError(f"{key}: must be true or false, got {text!r}")
    return text.lower() == "true"


def _single(key: str, values: list[str]) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise UserError(f"{key}: may be given only once")
    return values[0]


def _check_values(grouped: dict[str, list[str]]) -> None:
    bad_status = sorted({s for s in grouped.get("status", []) if s not in STATUSES})
    if bad_status:
        raise UserError(f"Unrecognized status values: {', '.join(bad_status)}")
    for wf_id in grouped.get("id", []):
        try:
            uuid.UUID(wf_id)
        except ValueError:
            raise UserError(f"id: {wf_id!r} is not a UUID") from None
    bad_fields = sorted(set(grouped.get("additionalQueryResultFields", [])) - ADDITIONAL_FIELDS)
    if bad_fields:
        raise UserError(f"additionalQueryResultFields: unknown {', '.join(bad_fields)}")


def parse_query(pairs: Iterable[tuple[str, str]]) -> WorkflowQuery:
    """A ``WorkflowQuery`` from (key, value) pairs, or a ``UserError`` saying what is wrong."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    unknown = sorted(set(grouped) - ALL_KEYS)
    if unknown:
        raise UserError(f"Unrecognized query keys: {', '.join(unknown)}")
    _check_values(grouped)
    times = {k: _single(k, grouped.get(k, [])) for k in ("submission", "start", "end")}
    parsed = {k: parse_time(k, v) if v is not None else None for k, v in times.items()}
    if (
        parsed["start"] is not None
        and parsed["end"] is not None
        and parsed["start"] > parsed["end"]
    ):
        raise UserError("Specified start date is after specified end date")
    page = _single("page", grouped.get("page", []))
    size = _single("pageSize", grouped.get("pageSize", []))
    subs = _single("includeSubworkflows", grouped.get("includeSubworkflows", []))

    def labels(key: str) -> tuple[tuple[str, str], ...]:
        return tuple(_label(key, v) for v in grouped.get(key, []))

    return WorkflowQuery(
        statuses=frozenset(grouped.get("status", [])),
        names=frozenset(grouped.get("name", [])),
        ids=frozenset(str(uuid.UUID(i)) for i in grouped.get("id", [])),
        labels_all=labels("label"),
        labels_any=labels("labelor"),
        exclude_all=labels("excludeLabelAnd"),
        exclude_any=labels("excludeLabelOr"),
        submission=parsed["submission"],
        start=parsed["start"],
        end=parsed["end"],
        page=_positive("page", page) if page is not None else None,
        page_size=_positive("pageSize", size) if size is not None else None,
        include_subworkflows=_bool("includeSubworkflows", subs) if subs is not None else True,
        additional=frozenset(grouped.get("additionalQueryResultFields", [])),
    )


def pairs_from_body(body: Any) -> list[tuple[str, str]]:
    """POST /query's body (a list of single-key objects) as (key, value) pairs."""
    if not isinstance(body, list):
        raise UserError('query body: must be a JSON array of objects like {"status": "Running"}')
    pairs: list[tuple[str, str]] = []
    for item in body:
        if not isinstance(item, dict) or len(item) != 1:
            raise UserError("query body: each element must be an object with exactly one key")
        ((key, value),) = item.items()
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int):
            raise UserError(f"query body: value of {key!r} must be a string")
        pairs.append((str(key), str(value)))
    return pairs


def _has(labels: dict[str, str], pair: tuple[str, str]) -> bool:
    return labels.get(pair[0]) == pair[1]


def matches(q: WorkflowQuery, w: WorkflowSummary) -> bool:
    """Whether a workflow satisfies the query."""
    checks = (
        q.include_subworkflows or w.parent_id is None,
        not q.statuses or w.status in q.statuses,
        not q.names or w.name in q.names,
        not q.ids or w.id in q.ids,
        all(_has(w.labels, p) for p in q.labels_all),
        not q.labels_any or any(_has(w.labels, p) for p in q.labels_any),
        not q.exclude_all or not all(_has(w.labels, p) for p in q.exclude_all),
        not any(_has(w.labels, p) for p in q.exclude_any),
        q.submission is None or w.submission >= q.submission,
        q.start is None or (w.start is not None and w.start >= q.start),
        q.end is None or (w.end is not None and w.end <= q.end),
    )
    return all(checks)


def _result(w: WorkflowSummary, additional: frozenset[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": w.id, "name": w.name, "status": w.status}
    for key, ts in (("submission", w.submission), ("start", w.start), ("end", w.end)):
        if ts is not None:
            row[key] = iso(ts)
    if w.root_id and w.root_id != w.id:
        row["rootWorkflowId"] = w.root_id
    if "parentWorkflowId" in additional and w.parent_id:
        row["parentWorkflowId"] = w.parent_id
    if "labels" in additional:
        row["labels"] = dict(w.labels)
    row["metadataArchiveStatus"] = "Unarchived"
    return row


def run_query(q: WorkflowQuery, workflows: Sequence[WorkflowSummary]) -> dict[str, Any]:
    """``{"results": [...], "totalResultsCount": n}``, newest submission first, paged."""
    found = sorted((w for w in workflows if matches(q, w)), key=lambda w: -w.submission)
    total = len(found)
    if q.page_size is not None:
        first = ((q.page or 1) - 1) * q.page_size
        found = found[first : first + q.page_size]
    return {"results": [_result(w, q.additional) for w in found], "totalResultsCount": total}
