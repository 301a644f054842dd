"""Alembic environment. Runs on a connection handed in by `dashboard.db.migrate` (async engines).

Why not the usual `alembic.ini` + URL: the app must migrate itself at start inside a running event
loop, and both backends use async drivers, so the caller opens the connection and passes it here.
"""

from __future__ import annotations

from alembic import context

from dashboard.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `python -m dashboard db upgrade`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported")
run_migrations_online()
