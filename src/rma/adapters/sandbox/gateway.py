"""A sandbox payment gateway that honours idempotency keys as a real one does: same key, same refund, never two."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.upsert import inserted_keys
from rma.adapters.sandbox.tables import SandboxRefundRow
from rma.ports.clock import Clock
from rma.ports.providers import GatewayRefund, RefundDeclined, RefundOrder


def _refund_id(idempotency_key: str) -> str:
    return "re_sbx_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


class SandboxGateway:
    def __init__(self, session_factory: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = session_factory
        self._clock = clock

    def refund_many(self, orders: Sequence[RefundOrder]) -> dict[str, GatewayRefund | RefundDeclined]:
        by_key = {order.idempotency_key: order for order in orders}
        refunds = {
            key: GatewayRefund(refund_id=_refund_id(key), amount=order.amount, currency=order.currency)
            for key, order in by_key.items()
        }
        now = self._clock.now()
        rows = [
            {
                "idempotency_key": key,
                "refund_id": refund.refund_id,
                "payment_reference": by_key[key].payment_reference,
                "amount": refund.amount,
                "currency": refund.currency,
                "created_at": now,
            }
            for key, refund in refunds.items()
        ]
        with self._sessions() as session, session.begin():
            fresh = inserted_keys(session, SandboxRefundRow, rows)
            # A repeated key answers with the refund made the first time, never a second one.
            repeats = self._stored(session, [key for key in by_key if key not in fresh])
        answers: dict[str, GatewayRefund | RefundDeclined] = {key: refunds[key] for key in fresh}
        answers.update(repeats)
        return answers

    def find_refunds(self, idempotency_keys: Sequence[str]) -> dict[str, GatewayRefund]:
        with self._sessions() as session:
            return self._stored(session, idempotency_keys)

    @staticmethod
    def _stored(session: Session, keys: Sequence[str]) -> dict[str, GatewayRefund]:
        if not keys:
            return {}
        rows = session.execute(
            select(
                SandboxRefundRow.idempotency_key,
                SandboxRefundRow.refund_id,
                SandboxRefundRow.amount,
                SandboxRefundRow.currency,
            ).where(SandboxRefundRow.idempotency_key.in_(list(keys)))
        )
        return {
            key: GatewayRefund(refund_id=refund_id, amount=amount, currency=currency)
            for key, refund_id, amount, currency in rows
        }
