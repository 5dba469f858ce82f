"""The sandbox carrier and gateway keep their idempotency promises in batch calls, on SQLite and PostgreSQL: a key
sold or paid before answers with what was sold or paid the first time, within the same call as fresh keys."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import ManualClock
from tests.integration.conftest import RENDERER, WAREHOUSE

from rma.adapters.sandbox.carrier import JourneyMix, SandboxCarrier
from rma.adapters.sandbox.gateway import SandboxGateway
from rma.adapters.sandbox.tables import SandboxLabelRow, SandboxRefundRow
from rma.domain.requests import ReturnRequest
from rma.ports.providers import Label, LabelRequest, LabelToVoid, RefundOrder, VoidOutcome


def _count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def test_a_batch_of_labels_sells_each_key_once(
    session_factory: sessionmaker[Session], engine: Engine, clock: ManualClock, make_request: object
) -> None:
    assert callable(make_request)
    request: ReturnRequest = make_request()
    carrier = SandboxCarrier(session_factory, clock, renderer=RENDERER, warehouse=WAREHOUSE, label_format="ZPL")
    ask = [
        LabelRequest(idempotency_key=f"lbl-{n}", rma_number=f"RMA-{n}", ship_from=request.return_from, weight_oz=20)
        for n in "ab"
    ]
    refs = carrier.open_shipments(ask)
    assert refs == {"lbl-a": "lbl-a", "lbl-b": "lbl-b"}  # the key is the sandbox's own reference
    ask = [dataclasses.replace(item, provider_ref=item.idempotency_key) for item in ask]
    first = carrier.buy_labels(ask[:1])
    both = carrier.buy_labels(ask)  # "lbl-a" again, with a fresh "lbl-b"
    labels = {key: label for key, label in both.items() if isinstance(label, Label)}
    assert set(labels) == {"lbl-a", "lbl-b"}
    assert labels["lbl-a"].tracking_number == first["lbl-a"].tracking_number  # type: ignore[union-attr]
    assert labels["lbl-a"].tracking_number != labels["lbl-b"].tracking_number
    assert b"RMA-b" in labels["lbl-b"].document  # a real label for its own RMA
    assert _count(engine, SandboxLabelRow) == 2


def test_an_unused_sandbox_label_is_refunded_and_a_scanned_one_is_not(
    session_factory: sessionmaker[Session], clock: ManualClock, make_request: object
) -> None:
    assert callable(make_request)
    request: ReturnRequest = make_request()
    never = SandboxCarrier(
        session_factory, clock, JourneyMix(1, 0, 0, 0), renderer=RENDERER, warehouse=WAREHOUSE, label_format="ZPL"
    )
    ask = LabelRequest("lbl-v", "RMA-v", request.return_from, weight_oz=20, provider_ref="lbl-v")
    label = never.buy_labels([ask])["lbl-v"]
    assert isinstance(label, Label)
    void = [LabelToVoid("lbl-v", "lbl-v", label.tracking_number), LabelToVoid("lbl-x", "lbl-x", None)]
    assert never.void_labels(void) == {"lbl-v": VoidOutcome.REFUNDED, "lbl-x": VoidOutcome.NOT_BOUGHT}
    shipped = SandboxCarrier(
        session_factory, clock, JourneyMix(0, 0, 0, 0), renderer=RENDERER, warehouse=WAREHOUSE, label_format="ZPL"
    )
    ask = LabelRequest("lbl-s", "RMA-s", request.return_from, weight_oz=20, provider_ref="lbl-s")
    label = shipped.buy_labels([ask])["lbl-s"]
    assert isinstance(label, Label)
    clock.advance(timedelta(days=5))  # dropped off by now (at most three days after the label)
    assert shipped.void_labels([LabelToVoid("lbl-s", "lbl-s", label.tracking_number)]) == {
        "lbl-s": VoidOutcome.REJECTED
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
