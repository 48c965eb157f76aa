"""Alembic environment: runs on the connection the engine hands in."""

from __future__ import annotations

from alembic import context

from ironside.store.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the engine always hands one in
    raise RuntimeError("ironside migrations run through ironside.store.db.migrate()")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
