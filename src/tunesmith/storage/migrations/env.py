"""Alembic's entry point: runs on the connection (and inside the transaction) SQLStorage hands over."""

from __future__ import annotations

from alembic import context

from tunesmith.storage.migrations import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "tunesmith migrations run when SQLStorage opens a database (or through `tunesmith storage upgrade`), "
        "not from the alembic command line"
    )

context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
