"""Time columns in double precision: MySQL's FLOAT is single precision (epoch seconds lose minutes).

Revision ID: 0003
Revises: 0002

SQLite stores every float as an 8-byte REAL already, so there the columns are left alone
(no table rebuild); MySQL/MariaDB get ``DOUBLE``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: (table, column, nullable) of every epoch-seconds column created as ``Float`` by 0001.
TIME_COLUMNS = (
    ("ironside_workflow", "submitted", False),
    ("ironside_workflow", "started", True),
    ("ironside_workflow", "ended", True),
    ("ironside_call", "started", True),
    ("ironside_call", "ended", True),
    ("ironside_job", "started", True),
    ("ironside_metadata_event", "ts", False),
)


def _alter(new: sa.types.TypeEngine[float], old: sa.types.TypeEngine[float]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # REAL is double precision already
    for table, column, nullable in TIME_COLUMNS:
        op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)


def upgrade() -> None:
    """``FLOAT`` -> ``DOUBLE`` on the time columns."""
    _alter(sa.Double(), sa.Float())


def downgrade() -> None:
    """Back to ``FLOAT`` (loses precision on MySQL)."""
    _alter(sa.Float(), sa.Double())
