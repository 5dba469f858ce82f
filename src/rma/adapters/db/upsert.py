"""Bulk and idempotent inserts: INSERT ... ON CONFLICT DO NOTHING on both backends (PostgreSQL and SQLite spell it the
same; SQLAlchemy does not), and PostgreSQL's COPY for the batch intake."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _ignoring_insert(session: Session, model: Any, values: dict[str, Any] | list[dict[str, Any]]) -> Any:  # noqa: ANN401
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # On the Core table: a plain statement, none of the ORM's bulk-insert bookkeeping.
    return insert(model.__table__).values(values).on_conflict_do_nothing()


def insert_or_ignore(session: Session, model: Any, values: dict[str, Any] | list[dict[str, Any]]) -> None:  # noqa: ANN401
    """Insert the row(s) unless a unique key already holds them; the existing row is left as it is."""
    session.execute(_ignoring_insert(session, model, values))


def inserted_keys(session: Session, model: Any, rows: list[dict[str, Any]], *, key: str | None = None) -> set[Any]:  # noqa: ANN401
    """Insert the rows a unique key does not already hold, in one statement; the primary keys (single-column, or the
    column `key`) of the rows this call inserted. (RETURNING rather than the row count, which psycopg does not report
    for INSERT ... ON CONFLICT.)"""
    if not rows:
        return set()
    if key is None:
        (column,) = model.__table__.primary_key.columns
    else:
        column = model.__table__.c[key]
    return set(session.scalars(_ignoring_insert(session, model, rows).returning(column)))


def inserted(session: Session, model: Any, values: dict[str, Any]) -> bool:  # noqa: ANN401
    """Insert one row unless a unique key already holds it; True if this call inserted it."""
    return bool(inserted_keys(session, model, [values]))


def copy_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: write rows with COPY, inside the connection's transaction. A few microseconds per row, against a
    round trip of the pipeline per row for executemany; the rows must all have the same keys (JSON values as dicts)."""
    if not rows:
        return
    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*filter(None, (table.schema, table.name))), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([Jsonb(value) if isinstance(value, dict) else value for value in row.values()])
