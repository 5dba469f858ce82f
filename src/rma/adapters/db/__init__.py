"""Persistence: SQLAlchemy 2 tables, mapping to and from the domain, repository, unit of work and migrations."""

from rma.adapters.db.engine import create_db_engine, make_session_factory
from rma.adapters.db.unit_of_work import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyUnitOfWork", "create_db_engine", "make_session_factory"]
