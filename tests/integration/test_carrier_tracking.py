"""Tracking like a carrier integration: webhook events kept by id and applied in the order they happened, each
parcel's history, states a person must see, silent parcels, and unused labels voided at the carrier."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from tests.conftest import ManualClock
from tests.integration.test_stage_flow import run_outbox

from rma.adapters.db.audit import run_audit
from rma.adapters.db.tables import LabelRow, OutboxRow
from rma.adapters.sandbox.carrier import JourneyMix
from rma.adapters.sandbox.tables import SandboxLabelRow
from rma.domain.lifecycle import Actor, Status
from rma.ports.providers import TrackingEvent, TrackingState, TrackingUpdate
from rma.ports.stores import CarrierEvent
from rma.services import cancellation, tracking
from rma.services.context import StageContext
from rma.services.flow import ANNOUNCED
from rma.services.intake import submit_return


def _labelled(ctx: StageContext, make_request: Any, engine: Engine, clock: ManualClock) -> tuple[uuid.UUID, str]:
    return_id = submit_return(ctx.uow(), make_request(), now=clock.now(), due_at=ctx.machine_deadline()).return_id
    run_outbox(ctx, engine)
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        parcel = uow.shipments.parcels([return_id])[return_id]
    assert ret is not None
    assert ret.status is Status.LABEL_ISSUED
    return return_id, parcel.tracking_number


def _status(ctx: StageContext, return_id: uuid.UUID) -> Status:
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
    assert ret is not None
    return ret.status


def _event(tracking_number: str, state: TrackingState, at: datetime, message: str, place: str) -> TrackingUpdate:
    return TrackingUpdate(
        tracking_number=tracking_number,
        state=state,
        at=at,
        events=(TrackingEvent(at=at, state=state, message=message, place=place),),
        detail=message,
    )


def test_webhook_events_are_kept_once_applied_in_order_and_make_the_history(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    return_id, number = _labelled(ctx, make_request, engine, clock)
    t0 = clock.now()
    in_transit = _event(number, TrackingState.IN_TRANSIT, t0 + timedelta(hours=5), "Accepted", "Sparks, NV, US")
    delivered = _event(number, TrackingState.DELIVERED, t0 + timedelta(days=2), "Delivered", "Reno, NV, US")
    clock.advance(timedelta(days=3))

    # Delivered first, the earlier scan after it (webhooks are not ordered), and the delivery sent twice.
    assert tracking.receive_event(ctx, CarrierEvent("easypost", "evt_2", delivered))
    assert not tracking.receive_event(ctx, CarrierEvent("easypost", "evt_2", delivered))
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OutboxRow)) == 1  # the duplicate queued nothing
    run_outbox(ctx, engine)
    assert _status(ctx, return_id) is Status.DELIVERED
    assert tracking.receive_event(ctx, CarrierEvent("easypost", "evt_1", in_transit))
    run_outbox(ctx, engine)

    assert _status(ctx, return_id) is Status.DELIVERED  # the late, older scan moved nothing back
    with ctx.uow() as uow:
        history = uow.shipments.history(return_id)
        parcel = uow.shipments.parcels([return_id])[return_id]
    assert [(e.state, e.message, e.place) for e in history] == [
        (TrackingState.IN_TRANSIT, "Accepted", "Sparks, NV, US"),
        (TrackingState.DELIVERED, "Delivered", "Reno, NV, US"),
    ]
    assert parcel.carrier_status == "delivered"
    assert parcel.shipped_at is not None


def test_a_parcel_heard_of_by_webhook_is_polled_less_often(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    return_id, number = _labelled(ctx, make_request, engine, clock)
    scan = _event(number, TrackingState.IN_TRANSIT, clock.now(), "Accepted", "Sparks, NV, US")
    tracking.receive_event(ctx, CarrierEvent("easypost", "evt_a", scan))
    run_outbox(ctx, engine)
    assert _status(ctx, return_id) is Status.IN_TRANSIT
    with ctx.uow() as uow:
        due = uow.shipments.due(now=clock.now() + ctx.timing.poll_after_webhook - timedelta(minutes=1), limit=10)
        later = uow.shipments.due(now=clock.now() + ctx.timing.poll_after_webhook, limit=10)
    assert due == []  # not before the webhook interval, though the regular one is shorter
    assert ctx.timing.poll_every < ctx.timing.poll_after_webhook
    assert [rid for rid, _ in later] == [return_id]


def test_an_event_about_a_parcel_we_do_not_track_changes_nothing(make_ctx: Any, engine: Engine) -> None:
    ctx = make_ctx()
    stray = _event("1Z999", TrackingState.DELIVERED, datetime.now().astimezone(), "Delivered", "Reno, NV, US")
    assert tracking.receive_event(ctx, CarrierEvent("easypost", "evt_stray", stray))
    assert tracking.apply_events(ctx, [("easypost", "evt_stray")]) == 0
    with ctx.uow() as uow:
        assert uow.carrier_events.get_many([("easypost", "evt_stray")]) == []  # applied: not handed out again
    run_outbox(ctx, engine)


@pytest.mark.parametrize(
    ("state", "cause"),
    [
        (TrackingState.FAILURE, "the carrier could not deliver the parcel: Address not accessible"),
        (TrackingState.ERROR, "the carrier cannot track the parcel: Address not accessible"),
        (TrackingState.CANCELLED, "the carrier cancelled the shipment: Address not accessible"),
    ],
)
def test_carrier_states_no_rule_can_settle_go_to_a_person_with_the_carriers_words(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock, state: TrackingState, cause: str
) -> None:
    ctx = make_ctx()
    return_id, number = _labelled(ctx, make_request, engine, clock)
    news = _event(number, state, clock.now(), "Address not accessible", "Reno, NV, US")
    tracking.receive_event(ctx, CarrierEvent("easypost", f"evt_{state}", news))
    run_outbox(ctx, engine)
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
    assert ret is not None
    assert ret.status is Status.NEEDS_ATTENTION
    assert ret.attention_cause == cause


def test_a_parcel_with_no_scan_for_too_long_goes_to_a_person(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    return_id, number = _labelled(ctx, make_request, engine, clock)
    scan = _event(number, TrackingState.IN_TRANSIT, clock.now(), "Accepted", "Sparks, NV, US")
    tracking.receive_event(ctx, CarrierEvent("easypost", "evt_s", scan))
    run_outbox(ctx, engine)
    clock.advance(ctx.timing.lost_after + timedelta(hours=1))
    # The same scan told again by a later event: nothing new for lost_after days.
    tracking.receive_event(ctx, CarrierEvent("easypost", "evt_s2", scan))
    run_outbox(ctx, engine)
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
    assert ret is not None
    assert ret.status is Status.NEEDS_ATTENTION
    assert ret.attention_cause == "no carrier scan for 10 days: probably lost, claim with the carrier"


def test_an_expired_label_is_voided_at_the_carrier_and_the_audit_holds(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx(mix=JourneyMix(never_shipped=1, lost=0, returned_to_sender=0, damaged=0))
    return_id, _ = _labelled(ctx, make_request, engine, clock)
    clock.advance(ctx.timing.label_valid + timedelta(hours=1))
    tracking.poll(ctx, [return_id])
    run_outbox(ctx, engine)
    assert _status(ctx, return_id) is Status.CLOSED
    with engine.connect() as conn:
        void_status = conn.scalar(select(LabelRow.void_status).where(LabelRow.return_id == return_id))
        voided_at_carrier = conn.scalar(select(func.count()).where(SandboxLabelRow.voided_at.is_not(None)))
    assert void_status == "refunded"
    assert voided_at_carrier == 1
    with Session(engine) as session:
        report = run_audit(session, now=clock.now(), real_now=clock.now(), announced=ANNOUNCED)
    assert report.violations["unused_labels_not_voided"] == 0
    assert report.violations["voided_shipped_labels"] == 0


def test_a_return_cancelled_before_shipping_is_voided_and_closed_but_not_after_a_scan(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    kept, number = _labelled(ctx, make_request, engine, clock)
    dropped, _ = _labelled(ctx, make_request, engine, clock)

    assert cancellation.cancel(ctx, dropped, reason="changed my mind", actor=Actor.CUSTOMER) is Status.CANCELLED
    assert cancellation.cancel(ctx, dropped, reason="asked twice", actor=Actor.CUSTOMER) is Status.CANCELLED
    run_outbox(ctx, engine)
    assert _status(ctx, dropped) is Status.CLOSED
    with engine.connect() as conn:
        assert conn.scalar(select(LabelRow.void_status).where(LabelRow.return_id == dropped)) == "refunded"

    tracking.receive_event(
        ctx, CarrierEvent("easypost", "evt_k", _event(number, TrackingState.IN_TRANSIT, clock.now(), "Accepted", "X"))
    )
    run_outbox(ctx, engine)
    with pytest.raises(cancellation.NotCancellableError, match="in_transit"):
        cancellation.cancel(ctx, kept, reason="too late", actor=Actor.CUSTOMER)
