"""Alembic environment for the store's migrations.

The bridge runs migrations in-process: :func:`presence_bridge.storage.engine.upgrade_engine`
passes an open connection in ``config.attributes["connection"]``, so no
``alembic.ini`` or URL is read here.
"""

from __future__ import annotations

from alembic import context

from presence_bridge.storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "presence-bridge migrations need an open connection; "
        "run them with `presence-bridge db upgrade`"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most column properties; batch mode copies the table.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    # Every SQLite transaction here starts with BEGIN IMMEDIATE, DDL included.
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
