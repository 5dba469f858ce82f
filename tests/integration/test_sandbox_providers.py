"""The sandbox carrier and gateway keep their idempotency promises in batch calls, on SQLite and PostgreSQL: a key
sold or paid before answers with what was sold or paid the first time, within the same call as fresh keys."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import ManualClock

from rma.adapters.sandbox.carrier import SandboxCarrier
from rma.adapters.sandbox.gateway import SandboxGateway
from rma.adapters.sandbox.tables import SandboxLabelRow, SandboxRefundRow
from rma.domain.requests import ReturnRequest
from rma.ports.providers import LabelRequest, RefundOrder


def _count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def test_a_batch_of_labels_sells_each_key_once(
    session_factory: sessionmaker[Session], engine: Engine, clock: ManualClock, make_request: object
) -> None:
    assert callable(make_request)
    request: ReturnRequest = make_request()
    carrier = SandboxCarrier(session_factory, clock)
    ask = [LabelRequest(idempotency_key=f"lbl-{n}", rma_number=f"RMA-{n}", ship_from=request.return_from) for n in "ab"]
    first = carrier.create_labels(ask[:1])
    both = carrier.create_labels(ask)  # "lbl-a" again, with a fresh "lbl-b"
    assert set(both) == {"lbl-a", "lbl-b"}
    assert both["lbl-a"].tracking_number == first["lbl-a"].tracking_number
    assert both["lbl-a"].tracking_number != both["lbl-b"].tracking_number
    assert b"RMA-b" in both["lbl-b"].document  # a real label for its own RMA
    assert _count(engine, SandboxLabelRow) == 2
    found = carrier.find_labels(["lbl-a", "lbl-b", "lbl-never"])
    assert {key: label.tracking_number for key, label in found.items()} == {
        key: label.tracking_number for key, label in both.items()
    }


def test_a_batch_of_refunds_pays_each_key_once(
    session_factory: sessionmaker[Session], engine: Engine, clock: ManualClock
) -> None:
    gateway = SandboxGateway(session_factory, clock)
    orders = [
        RefundOrder(idempotency_key=f"rf-{n}", payment_reference="web:o-1", amount=n, currency="USD")
        for n in (100, 250)
    ]
    first = gateway.refund_many(orders[:1])
    # The repeat of "rf-100" comes with another amount: the gateway answers with the refund it made, not a new one.
    again = gateway.refund_many([dataclasses.replace(orders[0], amount=999), orders[1]])
    assert again["rf-100"] == first["rf-100"]
    assert again["rf-250"].amount == 250  # type: ignore[union-attr]
    assert _count(engine, SandboxRefundRow) == 2
    assert gateway.find_refunds(["rf-100", "rf-250", "rf-none"]) == {
        "rf-100": first["rf-100"],
        "rf-250": again["rf-250"],
    }
