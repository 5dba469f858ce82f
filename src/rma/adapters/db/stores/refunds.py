"""Refund decisions and their state at the gateway."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rma.adapters.db.stores.statements import update_one
from rma.adapters.db.tables import RefundRow
from rma.adapters.db.upsert import insert_or_ignore
from rma.domain.returns import ReturnAuthorization
from rma.ports.stores import RefundRecord, RefundStatus


class SqlRefundStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def create(
        self, ret: ReturnAuthorization, *, idempotency_key: str, amount: int, lines: dict[str, int], at: datetime
    ) -> None:
        values = {
            "return_id": ret.id,
            "channel": ret.channel,
            "order_id": ret.request.order_id,
            "idempotency_key": idempotency_key,
            "amount": amount,
            "currency": ret.request.currency,
            "lines": lines,
            "status": RefundStatus.PENDING.value,
            "created_at": at,
        }
        insert_or_ignore(self._session, RefundRow, values)

    def of_return(self, return_id: UUID) -> Sequence[RefundRecord]:
        return self.of_returns([return_id]).get(return_id, [])

    def of_returns(self, return_ids: Sequence[UUID]) -> dict[UUID, list[RefundRecord]]:
        if not return_ids:
            return {}
        self._session.flush()  # refund decisions this transaction made count too
        stmt = select(RefundRow).where(RefundRow.return_id.in_(list(return_ids))).order_by(RefundRow.id)
        found: dict[UUID, list[RefundRecord]] = {}
        for row in self._session.scalars(stmt):
            found.setdefault(row.return_id, []).append(
                RefundRecord(
                    id=row.id,
                    return_id=row.return_id,
                    idempotency_key=row.idempotency_key,
                    amount=row.amount,
                    currency=row.currency,
                    lines={k: int(v) for k, v in row.lines.items()},
                    status=RefundStatus(row.status),
                    gateway_refund_id=row.gateway_refund_id,
                )
            )
        return found

    def _update(self, idempotency_key: str, **values: object) -> None:
        update_one(
            self._session,
            RefundRow,
            RefundRow.idempotency_key == idempotency_key,
            f"no refund with key {idempotency_key}",
            **values,
        )

    def settle(self, idempotency_key: str, *, gateway_refund_id: str, at: datetime) -> None:
        self._update(
            idempotency_key, status=RefundStatus.SUCCEEDED.value, gateway_refund_id=gateway_refund_id, settled_at=at
        )

    def fail(self, idempotency_key: str, *, cause: str, at: datetime) -> None:
        self._update(idempotency_key, status=RefundStatus.FAILED.value, failure=cause[:500], settled_at=at)
