"""Call caching: cache entries, a persistent MD5 memo, the callCaching metadata of each call.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Outputs and file lists of a call can be large: MEDIUMTEXT (16 MiB) on MySQL.
LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the cache tables and add ``ironside_call.call_caching``."""
    op.create_table(
        "ironside_call_cache_entry",
        sa.Column("id", ENTRY_ID, primary_key=True, autoincrement=True),
        sa.Column("aggregate_hash", sa.String(32), nullable=False),
        sa.Column("base_hash", sa.String(32), nullable=False),
        sa.Column("files_hash", sa.String(32), nullable=False),
        sa.Column("hashes", LONG_TEXT, nullable=False),
        sa.Column("workflow_id", sa.String(36), nullable=False),
        sa.Column("call_fqn", sa.String(255), nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
        sa.Column("call_root", sa.String(2048), nullable=False),
        sa.Column("outputs", LONG_TEXT, nullable=False),
        sa.Column("files", LONG_TEXT, nullable=False),
        sa.Column("return_code", sa.Integer),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("allow_result_reuse", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_ironside_cache_lookup",
        "ironside_call_cache_entry",
        ["aggregate_hash", "allow_result_reuse", "id"],
    )
    op.create_table(
        "ironside_md5_memo",
        sa.Column("path_key", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("md5", sa.String(32), nullable=False),
    )
    op.add_column("ironside_call", sa.Column("call_caching", sa.Text))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    op.drop_column("ironside_call", "call_caching")
    op.drop_table("ironside_md5_memo")
    op.drop_index("ix_ironside_cache_lookup", table_name="ironside_call_cache_entry")
    op.drop_table("ironside_call_cache_entry")
