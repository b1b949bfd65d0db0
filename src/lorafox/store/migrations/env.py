"""Alembic environment: runs the migrations on the connection lorafox hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from lorafox.store.sql.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("lorafox runs its migrations itself: `lorafox serve` or `lorafox migrate`")
_run(connection)
