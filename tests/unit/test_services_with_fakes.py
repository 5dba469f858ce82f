"""Services against in-memory fakes of the small ports: no database, no broker. What follows each change comes from
the real flow module, asked by the fake unit of work at commit, as the real one does."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from tests.conftest import ManualClock
from tests.unit.fakes import Database, FakeCarrier, FakeUnitOfWork, MemoryDocuments, TextRenderer

from rma.config import Settings
from rma.domain.lifecycle import Actor, Status
from rma.domain.policy.model import PolicyBook
from rma.domain.requests import ReturnRequest
from rma.domain.returns import ReturnAuthorization
from rma.ports.messaging import Step
from rma.ports.providers import Notifier, PaymentGateway
from rma.services import closing, issuance, labels
from rma.services import documents as document_service
from rma.services.context import StageContext
from rma.services.flow import ISSUE_LABEL, ISSUE_LABELS

NOW = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
WAREHOUSE = Settings().warehouse_address


@pytest.fixture
def db() -> Database:
    return Database()


@pytest.fixture
def carrier() -> FakeCarrier:
    return FakeCarrier()


@pytest.fixture
def ctx(db: Database, carrier: FakeCarrier, policy_book: PolicyBook) -> StageContext:
    return StageContext(
        uow=lambda: FakeUnitOfWork(db),  # type: ignore[arg-type, return-value]
        clock=ManualClock(NOW),
        book=policy_book,
        rma_prefix="RMA",
        carrier=carrier,
        gateway=cast("PaymentGateway", None),
        notifier=cast("Notifier", None),
        documents=MemoryDocuments(),
        renderer=TextRenderer(),
        warehouse=WAREHOUSE,
    )


def _stored(db: Database, request: ReturnRequest) -> ReturnAuthorization:
    ret = ReturnAuthorization.receive(request, return_id=uuid.uuid4(), at=NOW - timedelta(hours=1))
    db.returns[ret.id] = ret
    return ret


def _authorized(db: Database, ctx: StageContext, make_request: Any, n: int) -> list[uuid.UUID]:
    ids = [_stored(db, make_request(upstream_request_id=f"req-{i}")).id for i in range(n)]
    issuance.issue_many(ctx, ids)
    db.outbox.clear()
    db.announcements.clear()
    return ids


def test_issuance_hands_each_authorized_return_to_the_label_stage_through_the_flow(
    db: Database, ctx: StageContext, make_request: Any
) -> None:
    ids = [_stored(db, make_request(upstream_request_id=f"req-{i}")).id for i in range(3)]

    statuses = issuance.issue_many(ctx, ids)

    assert set(statuses.values()) == {Status.AUTHORIZED}
    assert all(db.returns[rid].rma_number for rid in ids)
    # One batch message for the three (the flow merges per-return chains), and one "authorized" message each.
    ((step,),) = db.outbox
    assert step.task == ISSUE_LABELS
    assert sorted(step.kwargs["return_ids"]) == sorted(str(rid) for rid in ids)
    assert sorted((a.return_id, a.event) for a in db.announcements) == sorted((rid, Status.AUTHORIZED) for rid in ids)


def test_a_lone_return_keeps_its_per_return_message(db: Database, ctx: StageContext, make_request: Any) -> None:
    (rid,) = [_stored(db, make_request()).id]
    issuance.issue(ctx, rid)
    assert db.outbox == [(Step(ISSUE_LABEL, {"return_id": str(rid)}),)]


def test_labels_are_bought_once_per_return_however_often_the_stage_runs(
    db: Database, ctx: StageContext, carrier: FakeCarrier, make_request: Any
) -> None:
    ids = _authorized(db, ctx, make_request, 2)

    first = labels.issue_labels(ctx, ids)
    again = labels.issue_labels(ctx, ids)

    assert set(first.values()) == set(again.values()) == {Status.LABEL_ISSUED}
    assert len(carrier.sold) == 2
    assert carrier.calls == 2  # one call to open the shipments, one to buy; the second run found nothing left to do
    assert {record.tracking_number for record in db.labels.values()} == {
        label.tracking_number for label in carrier.sold.values()
    }
    assert set(db.shipments) == set(ids)
    # The label's expiry is the status's deadline; the customer hears once; nothing is queued (the carrier moves next).
    assert all(db.returns[rid].due_at == NOW + ctx.timing.label_valid for rid in ids)
    assert sorted(a.event for a in db.announcements) == [Status.LABEL_ISSUED] * 2
    assert db.outbox == []


def test_the_label_and_packing_slip_are_kept_in_the_document_store(
    db: Database, ctx: StageContext, make_request: Any
) -> None:
    (rid,) = _authorized(db, ctx, make_request, 1)
    labels.issue_labels(ctx, [rid])
    record = db.labels[rid]
    documents = cast("MemoryDocuments", ctx.documents)
    assert record.document_key == labels.document_key(rid, "ZPL")
    assert documents.kept[record.document_key] == b"^XA^XZ"  # the carrier's own document, as it gave it
    assert labels.slip_key(rid) not in documents.kept  # drawn when first asked for
    slip = document_service.packing_slip(ctx, db.returns[rid], record)
    assert slip == f"slip {db.returns[rid].rma_number} 1 lines".encode()
    assert documents.kept[labels.slip_key(rid)] == slip


def test_a_retry_after_a_crash_buys_on_the_shipment_stored_before_the_purchase(
    db: Database, ctx: StageContext, carrier: FakeCarrier, make_request: Any
) -> None:
    (rid,) = _authorized(db, ctx, make_request, 1)
    original = carrier.buy_labels

    def crash(requests: Any) -> Any:
        original(requests)  # the carrier sold the label, then the worker died before our commit
        raise SystemExit

    carrier.buy_labels = crash  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        labels.issue_labels(ctx, [rid])
    assert db.labels[rid].provider_ref == "shp_1"  # committed before the purchase
    assert db.returns[rid].status is Status.AUTHORIZED

    carrier.buy_labels = original  # type: ignore[method-assign]
    assert labels.issue_labels(ctx, [rid]) == {rid: Status.LABEL_ISSUED}
    assert list(carrier.opened.values()) == ["shp_1"]  # no second shipment
    assert len(carrier.sold) == 1
    assert db.labels[rid].tracking_number == carrier.sold[labels.label_key(rid)].tracking_number


def test_two_attempts_at_one_label_buy_on_the_one_shipment_stored_first(
    db: Database, ctx: StageContext, carrier: FakeCarrier, make_request: Any
) -> None:
    """A re-drive runs while the first attempt waits on the carrier: both open a shipment, only one is stored."""
    (rid,) = _authorized(db, ctx, make_request, 1)
    original = carrier.open_shipments

    def raced(requests: Any) -> Any:
        answer = original(requests)
        # Meanwhile the other attempt opened its own shipment and stored it first.
        carrier.opened["other"] = "shp_other"
        db.labels[rid] = dataclasses.replace(db.labels[rid], provider_ref="shp_other")
        return answer

    carrier.open_shipments = raced  # type: ignore[method-assign]
    bought: list[str | None] = []
    buy = carrier.buy_labels

    def record(requests: Any) -> Any:
        bought.extend(request.provider_ref for request in requests)
        return {r.idempotency_key: buy([dataclasses.replace(r, idempotency_key="other")])["other"] for r in requests}

    carrier.buy_labels = record  # type: ignore[method-assign]
    assert labels.issue_labels(ctx, [rid]) == {rid: Status.LABEL_ISSUED}
    assert bought == ["shp_other"]  # not the shipment this attempt opened (shp_1): never two purchases
    assert db.labels[rid].provider_ref == "shp_other"


def test_a_label_the_carrier_refuses_parks_the_return_with_the_carriers_words(
    db: Database, ctx: StageContext, carrier: FakeCarrier, make_request: Any
) -> None:
    refused, fine = _authorized(db, ctx, make_request, 2)
    carrier.refuse[db.returns[refused].rma_number or ""] = "address invalid: postal code not found"

    statuses = labels.issue_labels(ctx, [refused, fine])

    assert statuses == {refused: Status.NEEDS_ATTENTION, fine: Status.LABEL_ISSUED}
    assert db.returns[refused].attention_cause == (
        "the carrier refused the label: address invalid: postal code not found"
    )
    assert refused not in db.shipments
    assert len(carrier.sold) == 1


def test_closing_closes_settled_returns_only_and_nobody_is_told(
    db: Database, ctx: StageContext, make_request: Any
) -> None:
    settled = _stored(db, make_request(upstream_request_id="a"))
    settled.transition(Status.REJECTED, at=NOW, actor=Actor.POLICY, cause="test")
    waiting = _stored(db, make_request(upstream_request_id="b"))

    result = closing.close_many(ctx, [settled.id, waiting.id])

    assert result == {settled.id: Status.CLOSED, waiting.id: Status.REQUESTED}
    assert db.returns[settled.id].status is Status.CLOSED
    assert db.returns[waiting.id].status is Status.REQUESTED
    assert db.announcements == []  # closing is internal
    assert db.outbox == []
