"""Unit of work: one session, one transaction; rolls back on exit unless committed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from rma.adapters.db.repository import UPSTREAM_KEY, SqlAlchemyReturnRepository
from rma.adapters.db.stores import SqlAlchemyStores
from rma.adapters.db.tables import RmaCounterRow
from rma.adapters.db.upsert import insert_or_ignore
from rma.domain.errors import ConcurrentUpdateError, DuplicateRequestError

_UPSTREAM_KEY_HINTS = (UPSTREAM_KEY, "returns.channel, returns.upstream_request_id")


# Called with (outbox row id, message) for each message this unit of work committed: the publisher's cue.
AfterCommit = Callable[[Sequence[tuple[int, dict[str, Any]]]], None]


class SqlAlchemyUnitOfWork:
    """`after_commit` receives the outbox rows this unit of work committed, to publish them at once."""

    def __init__(self, session_factory: sessionmaker[Session], *, after_commit: AfterCommit | None = None) -> None:
        self._session_factory = session_factory
        self._after_commit = after_commit
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._session

    def __enter__(self) -> Self:
        self._session = self._session_factory()
        self.returns = SqlAlchemyReturnRepository(self._session)
        self.stores = SqlAlchemyStores(self._session, datetime.now(UTC))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            session.rollback()
            self.stores.discard_outbox()
        finally:
            session.close()
            self._session = None

    def commit(self) -> None:
        session = self.session
        try:
            self.stores.write_outbox()
            session.flush()
            outbox = [(row.id, row.message) for row in self.stores.outbox_rows]
            session.commit()
        except StaleDataError as exc:
            session.rollback()
            raise ConcurrentUpdateError(f"a return was changed by another writer since it was loaded: {exc}") from exc
        except IntegrityError as exc:
            session.rollback()
            if any(hint in str(exc.orig) for hint in _UPSTREAM_KEY_HINTS):
                raise DuplicateRequestError(str(exc.orig)) from exc
            raise
        self.stores.outbox_rows.clear()
        if outbox and self._after_commit is not None:
            self._after_commit(outbox)

    def rollback(self) -> None:
        self.session.rollback()

    def lock_order(self, channel: str, order_id: str) -> None:
        # PostgreSQL: a transaction-scoped advisory lock on the order. SQLite already runs one writer at a time.
        session = self.session
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"order:{channel}:{order_id}"}
            )

    def next_rma_serials(self, prefix: str, count: int) -> range:
        """Atomically advance the prefix's counter inside this transaction (the row lock serialises issuers)."""
        session = self.session
        insert_or_ignore(session, RmaCounterRow, {"prefix": prefix, "last_value": 0})
        value = session.scalar(
            update(RmaCounterRow)
            .where(RmaCounterRow.prefix == prefix)
            .values(last_value=RmaCounterRow.last_value + count)
            .returning(RmaCounterRow.last_value)
        )
        if value is None:
            raise RuntimeError(f"RMA counter for prefix {prefix!r} is missing after insert")
        return range(int(value) - count + 1, int(value) + 1)
