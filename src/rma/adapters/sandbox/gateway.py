"""A sandbox payment gateway that honours idempotency keys as a real one does: same key, same refund, never two."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.tables import SandboxRefundRow
from rma.adapters.db.upsert import inserted
from rma.services.ports import Clock, GatewayRefund, RefundOrder


class SandboxGateway:
    def __init__(self, session_factory: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = session_factory
        self._clock = clock

    def refund(self, order: RefundOrder) -> GatewayRefund:
        refund_id = "re_sbx_" + hashlib.sha256(order.idempotency_key.encode()).hexdigest()[:20]
        values = {
            "idempotency_key": order.idempotency_key,
            "refund_id": refund_id,
            "payment_reference": order.payment_reference,
            "amount": order.amount,
            "currency": order.currency,
            "created_at": self._clock.now(),
        }
        with self._sessions() as session, session.begin():
            if inserted(session, SandboxRefundRow, values):
                return GatewayRefund(refund_id=refund_id, amount=order.amount, currency=order.currency)
            row = session.get_one(SandboxRefundRow, order.idempotency_key)  # a repeat answers with the first refund
            return GatewayRefund(refund_id=row.refund_id, amount=row.amount, currency=row.currency)

    def find_refund(self, idempotency_key: str) -> GatewayRefund | None:
        with self._sessions() as session:
            row = session.get(SandboxRefundRow, idempotency_key)
            return (
                None
                if row is None
                else GatewayRefund(refund_id=row.refund_id, amount=row.amount, currency=row.currency)
            )
