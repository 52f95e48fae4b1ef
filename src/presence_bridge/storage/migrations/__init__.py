"""Alembic migrations of the store; :func:`presence_bridge.storage.upgrade_database` runs them."""
