"""Durable engine state in SQL: models, migrations, batched writes."""

from ironside.store.db import Store, open_store

__all__ = ["Store", "open_store"]
