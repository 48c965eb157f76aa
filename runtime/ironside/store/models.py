"""The tables of everything the engine needs to resume and to report (SQLAlchemy Core).

Times are UNIX seconds (float); JSON documents are text columns. Calls and jobs
are keyed by their natural key (workflow, fqn, shard, attempt) so that batched
writes never need generated ids back. Core tables, not ORM classes: the engine only
runs statements, and the ORM's import is a tenth of a small run's start. A column is
read as ``Workflow.c.status``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()


def _key(name: str, kind: Any) -> Column[Any]:
    return Column(name, kind, primary_key=True, nullable=False)


def _required(name: str, kind: Any, default: Any = None, index: bool = False) -> Column[Any]:
    return Column(name, kind, nullable=False, default=default, index=index or None)


def _optional(name: str, kind: Any) -> Column[Any]:
    return Column(name, kind, nullable=True)


def _attempt_key() -> list[Column[Any]]:
    """The natural key of a call attempt: workflow, fqn, shard, attempt."""
    kinds = (("workflow_id", String(36)), ("fqn", String(255)))
    return [*(_key(n, k) for n, k in kinds), _key("shard", Integer), _key("attempt", Integer)]


#: One workflow (or sub-workflow) run.
Workflow = Table(
    "ironside_workflow",
    metadata,
    _key("id", String(36)),
    Column("parent_id", String(36), nullable=True, index=True),
    _optional("parent_call", String(255)),
    _optional("parent_shard", Integer),
    _required("name", String(255)),
    _required("status", String(32), index=True),
    _required("workflow_url", String(2048), default=""),
    _required("source", Text, default=""),
    _optional("imports_zip", LargeBinary(length=2**31)),
    _required("inputs", Text, default="{}"),
    _required("options", Text, default="{}"),
    _required("backend", String(64), default="Local"),
    _required("root", String(2048), default=""),
    _optional("outputs", Text),
    _optional("failures", Text),
    _required("submitted", Double),
    _optional("started", Double),
    _optional("ended", Double),
)

#: One call attempt: a shard of a call, one row per attempt.
Call = Table(
    "ironside_call",
    metadata,
    *_attempt_key(),
    _required("status", String(32)),
    _required("backend", String(64), default=""),
    _required("call_root", String(2048), default=""),
    _optional("job_id", String(2048)),
    _optional("return_code", Integer),
    _optional("inputs", Text),
    _optional("outputs", Text),
    _optional("runtime", Text),
    _optional("command", Text),
    _optional("failures", Text),
    _optional("sub_workflow_id", String(36)),
    _required("cached", Boolean, default=False),
    _optional("call_caching", Text),  # the callCaching metadata (JSON)
    _optional("started", Double),
    _optional("ended", Double),
)

#: What a backend returned for a call attempt: its job id (and, locally, pid + start).
Job = Table(
    "ironside_job",
    metadata,
    *_attempt_key(),
    _required("backend", String(64)),
    _required("job_id", String(2048)),
    _optional("pid", Integer),
    _optional("started", Double),
)

#: A workflow-level metadata event (status changes, warnings).
MetadataEvent = Table(
    "ironside_metadata_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _required("workflow_id", String(36)),
    _required("key", String(255)),
    _optional("value", Text),
    _required("ts", Double),
    Index("ix_ironside_event_wf", "workflow_id"),
)

#: A workflow label.
Label = Table(
    "ironside_label",
    metadata,
    _key("workflow_id", String(36)),
    _key("key", String(255)),
    _required("value", String(255)),
)
