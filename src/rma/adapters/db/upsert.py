"""INSERT ... ON CONFLICT DO NOTHING on both backends (PostgreSQL and SQLite spell it the same; SQLAlchemy does not)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_ignore(session: Session, table: Any, values: dict[str, Any] | list[dict[str, Any]]) -> None:  # noqa: ANN401
    """Insert the row(s) unless a unique key already holds them; the existing row is left as it is."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(table).values(values).on_conflict_do_nothing())
