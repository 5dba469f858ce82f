"""The outbox: follow-up messages written in the transaction of the change they follow, published after commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rma.adapters.db.tables import OutboxRow
from rma.ports.messaging import Chain, OutboxMessage, Step, outbox_message


class SqlOutbox:
    def __init__(self, session: Session) -> None:
        self._session = session
        self.queued: list[Chain] = []
        self.written: list[OutboxRow] = []

    def enqueue(self, *steps: Step) -> None:
        if steps:
            self.queued.append(steps)

    def write(self, chains: Sequence[Chain], *, at: datetime) -> None:
        """Called by the unit of work before it commits, with the flow's chains (the queued ones among them)."""
        for chain in chains:
            row = OutboxRow(created_at=at, message=outbox_message(chain), attempts=0)
            self._session.add(row)
            self.written.append(row)
        self.queued.clear()

    def discard(self) -> None:
        self.queued.clear()
        self.written.clear()

    def unpublished(self, *, older_than: datetime, limit: int) -> Sequence[tuple[int, OutboxMessage]]:
        stmt = select(OutboxRow).where(OutboxRow.created_at <= older_than).order_by(OutboxRow.id).limit(limit)
        if self._session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [(row.id, row.message) for row in self._session.scalars(stmt)]

    def delete(self, row_ids: Sequence[int]) -> None:
        if row_ids:
            self._session.execute(delete(OutboxRow).where(OutboxRow.id.in_(list(row_ids))))
