"""A statement every store needs."""

from __future__ import annotations

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from rma.adapters.db.tables import Base, table_of


def update_one(session: Session, model: type[Base], where: ColumnElement[bool], missing: str, **values: object) -> None:
    """One UPDATE on the Core table (no read first, none of the ORM's bookkeeping); LookupError(`missing`) when no row
    matched."""
    done = session.execute(update(table_of(model)).where(where).values(**values))
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise LookupError(missing)
