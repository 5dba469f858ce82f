"""INSERT ... ON CONFLICT DO NOTHING on both backends (PostgreSQL and SQLite spell it the same; SQLAlchemy does not)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _ignoring_insert(session: Session, model: Any, values: dict[str, Any] | list[dict[str, Any]]) -> Any:  # noqa: ANN401
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # On the Core table: a plain statement, none of the ORM's bulk-insert bookkeeping.
    return insert(model.__table__).values(values).on_conflict_do_nothing()


def insert_or_ignore(session: Session, model: Any, values: dict[str, Any] | list[dict[str, Any]]) -> None:  # noqa: ANN401
    """Insert the row(s) unless a unique key already holds them; the existing row is left as it is."""
    session.execute(_ignoring_insert(session, model, values))


def inserted(session: Session, model: Any, values: dict[str, Any]) -> bool:  # noqa: ANN401
    """Insert one row unless a unique key already holds it; True if this call inserted it. (RETURNING rather than
    the row count, which psycopg does not report for INSERT ... ON CONFLICT.)"""
    key = model.__table__.primary_key.columns
    return session.execute(_ignoring_insert(session, model, values).returning(*key)).first() is not None
