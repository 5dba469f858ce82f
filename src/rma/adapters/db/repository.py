"""The SQLAlchemy return repository: loads aggregates, saves their changes under an optimistic version check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rma.adapters.db.mapping import new_row, to_domain, update_row
from rma.adapters.db.tables import ReturnLineRow, ReturnRow
from rma.domain.errors import DomainError
from rma.domain.lifecycle import Status
from rma.domain.policy.evaluate import OrderHistory
from rma.domain.returns import ReturnAuthorization

# Units on lines in these statuses are free to be claimed again by a later return of the same order line.
_RELEASED = (Status.REJECTED.value, Status.CANCELLED.value, Status.EXPIRED.value)


class SqlAlchemyReturnRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._rows: dict[UUID, ReturnRow] = {}

    def _load(self, row: ReturnRow | None) -> ReturnAuthorization | None:
        if row is None:
            return None
        self._rows[row.id] = row
        return to_domain(row)

    def add(self, ret: ReturnAuthorization) -> None:
        row = new_row(ret)
        self._session.add(row)
        self._rows[ret.id] = row

    def save(self, ret: ReturnAuthorization) -> None:
        row = self._rows.get(ret.id)
        if row is None:
            raise DomainError(f"return {ret.id} was not loaded through this unit of work")
        update_row(row, ret)

    def get(self, return_id: UUID) -> ReturnAuthorization | None:
        return self._load(self._session.get(ReturnRow, return_id))

    def get_by_rma_number(self, rma_number: str) -> ReturnAuthorization | None:
        return self._load(self._session.scalar(select(ReturnRow).where(ReturnRow.rma_number == rma_number)))

    def get_by_upstream(self, channel: str, upstream_request_id: str) -> ReturnAuthorization | None:
        stmt = select(ReturnRow).where(
            ReturnRow.channel == channel, ReturnRow.upstream_request_id == upstream_request_id
        )
        return self._load(self._session.scalar(stmt))

    def list_by_order(self, channel: str, order_id: str) -> Sequence[ReturnAuthorization]:
        stmt = (
            select(ReturnRow)
            .where(ReturnRow.channel == channel, ReturnRow.order_id == order_id)
            .order_by(ReturnRow.created_at, ReturnRow.id)
        )
        return [ret for row in self._session.scalars(stmt) if (ret := self._load(row)) is not None]

    def order_history(self, channel: str, order_id: str, *, excluding: UUID | None = None) -> OrderHistory:
        stmt = (
            select(ReturnLineRow.order_line_id, func.sum(ReturnLineRow.quantity))
            .join(ReturnRow, ReturnLineRow.return_id == ReturnRow.id)
            .where(
                ReturnRow.channel == channel,
                ReturnRow.order_id == order_id,
                ReturnLineRow.status.not_in(_RELEASED),
            )
            .group_by(ReturnLineRow.order_line_id)
        )
        if excluding is not None:
            stmt = stmt.where(ReturnRow.id != excluding)
        claimed = {line_id: int(total) for line_id, total in self._session.execute(stmt)}
        return OrderHistory(claimed_quantity=claimed)

    def ids_due(self, status: Status, *, now: datetime, limit: int) -> Sequence[UUID]:
        stmt = (
            select(ReturnRow.id)
            .where(ReturnRow.status == status.value, ReturnRow.status_due_at <= now)
            .order_by(ReturnRow.status_due_at)
            .limit(limit)
        )
        return list(self._session.scalars(stmt))

    def count_by_status(self) -> dict[Status, int]:
        stmt = select(ReturnRow.status, func.count()).group_by(ReturnRow.status)
        return {Status(status): int(count) for status, count in self._session.execute(stmt)}
