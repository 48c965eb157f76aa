"""SQLAlchemy models of everything the engine needs to resume and to report.

Times are UNIX seconds (float); JSON documents are text columns. Calls and jobs
are keyed by their natural key (workflow, fqn, shard, attempt) so that batched
writes never need generated ids back.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Double, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the Ironside schema."""


class Workflow(Base):
    """One workflow (or sub-workflow) run."""

    __tablename__ = "ironside_workflow"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(36), index=True)
    parent_call: Mapped[str | None] = mapped_column(String(255))
    parent_shard: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), index=True)
    workflow_url: Mapped[str] = mapped_column(String(2048), default="")
    source: Mapped[str] = mapped_column(Text, default="")
    imports_zip: Mapped[bytes | None] = mapped_column(LargeBinary(length=2**31))
    inputs: Mapped[str] = mapped_column(Text, default="{}")
    options: Mapped[str] = mapped_column(Text, default="{}")
    backend: Mapped[str] = mapped_column(String(64), default="Local")
    root: Mapped[str] = mapped_column(String(2048), default="")
    outputs: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[str | None] = mapped_column(Text)
    submitted: Mapped[float] = mapped_column(Double)
    started: Mapped[float | None] = mapped_column(Double)
    ended: Mapped[float | None] = mapped_column(Double)


class Call(Base):
    """One call attempt: a shard of a call, one row per attempt."""

    __tablename__ = "ironside_call"

    workflow_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fqn: Mapped[str] = mapped_column(String(255), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    backend: Mapped[str] = mapped_column(String(64), default="")
    call_root: Mapped[str] = mapped_column(String(2048), default="")
    job_id: Mapped[str | None] = mapped_column(String(2048))
    return_code: Mapped[int | None] = mapped_column(Integer)
    inputs: Mapped[str | None] = mapped_column(Text)
    outputs: Mapped[str | None] = mapped_column(Text)
    runtime: Mapped[str | None] = mapped_column(Text)
    command: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[str | None] = mapped_column(Text)
    sub_workflow_id: Mapped[str | None] = mapped_column(String(36))
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    call_caching: Mapped[str | None] = mapped_column(Text)  # the callCaching metadata (JSON)
    started: Mapped[float | None] = mapped_column(Double)
    ended: Mapped[float | None] = mapped_column(Double)


class Job(Base):
    """What a backend returned for a call attempt: its job id (and, locally, pid + start)."""

    __tablename__ = "ironside_job"

    workflow_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fqn: Mapped[str] = mapped_column(String(255), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    backend: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(String(2048))
    pid: Mapped[int | None] = mapped_column(Integer)
    started: Mapped[float | None] = mapped_column(Double)


class MetadataEvent(Base):
    """A workflow-level metadata event (status changes, warnings)."""

    __tablename__ = "ironside_metadata_event"
    __table_args__ = (Index("ix_ironside_event_wf", "workflow_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(String(36))
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(Text)
    ts: Mapped[float] = mapped_column(Double)


class Label(Base):
    """A workflow label."""

    __tablename__ = "ironside_label"

    workflow_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
