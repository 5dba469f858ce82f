"""Unit of work: one session, one transaction; rolls back on exit unless committed.

At commit it asks the flow (`rma.ports.messaging.Flow`, given by the composition root) what follows the returns saved
in it, and writes that, customer messages and outbox rows, in the same transaction; after the commit it hands the
outbox rows to `after_commit` to be published at once (the relay publishes whatever that misses)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from rma.adapters.db.repository import UPSTREAM_KEY_HINTS, SqlAlchemyReturnRepository
from rma.adapters.db.stores.carrier_events import SqlCarrierEventStore
from rma.adapters.db.stores.dead_letters import SqlDeadLetterStore
from rma.adapters.db.stores.inspections import SqlInspectionStore
from rma.adapters.db.stores.labels import SqlLabelStore
from rma.adapters.db.stores.notifications import SqlNotificationStore
from rma.adapters.db.stores.outbox import SqlOutbox
from rma.adapters.db.stores.refunds import SqlRefundStore
from rma.adapters.db.stores.shipments import SqlShipmentStore
from rma.adapters.db.tables import RmaCounterRow
from rma.adapters.db.upsert import insert_or_ignore
from rma.domain.errors import ConcurrentUpdateError, DuplicateRequestError
from rma.ports.messaging import Flow, OutboxMessage

# Called with (outbox row id, message) for each message this unit of work committed: the publisher's cue.
AfterCommit = Callable[[Sequence[tuple[int, OutboxMessage]]], None]


class SqlAlchemyUnitOfWork:
    def __init__(
        self, session_factory: sessionmaker[Session], *, flow: Flow, after_commit: AfterCommit | None = None
    ) -> None:
        self._session_factory = session_factory
        self._flow = flow
        self._after_commit = after_commit
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._session

    def __enter__(self) -> Self:
        session = self._session = self._session_factory()
        self.returns = SqlAlchemyReturnRepository(session)
        self.labels = SqlLabelStore(session)
        self.shipments = SqlShipmentStore(session)
        self.carrier_events = SqlCarrierEventStore(session)
        self.inspections = SqlInspectionStore(session)
        self.refunds = SqlRefundStore(session)
        self.notifications = SqlNotificationStore(session)
        self.dead_letters = SqlDeadLetterStore(session)
        self.outbox = SqlOutbox(session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            session.rollback()
            self.outbox.discard()
            self.returns.forget_changes()
        finally:
            session.close()
            self._session = None

    def commit(self) -> None:
        session = self.session
        try:
            follow_ups = self._flow.follow_ups(self.returns.changes(), self.outbox.queued)
            now = datetime.now(UTC)
            if follow_ups.announcements:
                session.flush()  # the returns' rows before their messages' (foreign key)
                self.notifications.add(follow_ups.announcements, at=now)
            self.outbox.write(follow_ups.chains, at=now)
            session.flush()
            outbox = [(row.id, row.message) for row in self.outbox.written]
            session.commit()
        except StaleDataError as exc:
            session.rollback()
            raise ConcurrentUpdateError(f"a return was changed by another writer since it was loaded: {exc}") from exc
        except IntegrityError as exc:
            session.rollback()
            if any(hint in str(exc.orig) for hint in UPSTREAM_KEY_HINTS):
                raise DuplicateRequestError(str(exc.orig)) from exc
            raise
        finally:
            self.returns.forget_changes()
            self.outbox.discard()
        if outbox and self._after_commit is not None:
            self._after_commit(outbox)

    def rollback(self) -> None:
        self.session.rollback()
        self.returns.forget_changes()
        self.outbox.discard()

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
