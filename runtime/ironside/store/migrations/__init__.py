"""Alembic migrations of the Ironside schema."""
