"""Alembic environment: runs on the connection handed in by `rma.adapters.db.migrate`, or on RMA_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from rma.adapters.db.engine import create_db_engine
from rma.adapters.db.tables import Base
from rma.config import get_settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run `rma db upgrade` against a database")
run_migrations_online()
