"""Initial schema: workflows, calls, jobs, metadata events, labels.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "ironside_workflow",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("parent_id", sa.String(36), index=True),
        sa.Column("parent_call", sa.String(255)),
        sa.Column("parent_shard", sa.Integer),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("workflow_url", sa.String(2048), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("imports_zip", sa.LargeBinary(length=2**31)),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("root", sa.String(2048), nullable=False),
        sa.Column("outputs", sa.Text),
        sa.Column("failures", sa.Text),
        sa.Column("submitted", sa.Float, nullable=False),
        sa.Column("started", sa.Float),
        sa.Column("ended", sa.Float),
    )

    def key() -> list[sa.Column]:
        return [
            sa.Column("workflow_id", sa.String(36), primary_key=True),
            sa.Column("fqn", sa.String(255), primary_key=True),
            sa.Column("shard", sa.Integer, primary_key=True),
            sa.Column("attempt", sa.Integer, primary_key=True),
        ]

    op.create_table(
        "ironside_call",
        *key(),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("call_root", sa.String(2048), nullable=False),
        sa.Column("job_id", sa.String(2048)),
        sa.Column("return_code", sa.Integer),
        sa.Column("inputs", sa.Text),
        sa.Column("outputs", sa.Text),
        sa.Column("runtime", sa.Text),
        sa.Column("command", sa.Text),
        sa.Column("failures", sa.Text),
        sa.Column("sub_workflow_id", sa.String(36)),
        sa.Column("cached", sa.Boolean, nullable=False),
        sa.Column("started", sa.Float),
        sa.Column("ended", sa.Float),
    )
    op.create_table(
        "ironside_job",
        *key(),
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(2048), nullable=False),
        sa.Column("pid", sa.Integer),
        sa.Column("started", sa.Float),
    )
    op.create_table(
        "ironside_metadata_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workflow_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("ts", sa.Float, nullable=False),
    )
    op.create_index("ix_ironside_event_wf", "ironside_metadata_event", ["workflow_id"])
    op.create_table(
        "ironside_label",
        sa.Column("workflow_id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    """Drop the tables."""
    for table in (
        "ironside_label",
        "ironside_metadata_event",
        "ironside_job",
        "ironside_call",
        "ironside_workflow",
    ):
        op.drop_table(table)
