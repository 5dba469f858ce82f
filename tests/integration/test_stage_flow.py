"""Every stage, driven through the outbox in-process (no broker): a return travels from request to closed.

This checks the services and the follow-up chains they queue; the Celery workers are tested end to end in tests/e2e.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select
from tests.conftest import ManualClock
from tests.integration.conftest import NOW

from rma.adapters.db.tables import LabelRow, NotificationRow, OutboxRow, RefundRow
from rma.adapters.sandbox.carrier import JourneyMix, journey_of
from rma.adapters.sandbox.tables import SandboxLabelRow, SandboxMessageRow, SandboxRefundRow
from rma.domain.errors import ConcurrentUpdateError
from rma.domain.inspection import Grade
from rma.domain.lifecycle import Status
from rma.ports.providers import LabelRequest, RefundOrder
from rma.services import closing, inspection, labels, notify, reconcile, refunds, tracking
from rma.services.context import StageContext
from rma.services.flow import (
    APPLY_CARRIER_EVENTS,
    CLOSE,
    CLOSE_MANY,
    INSPECT,
    INSPECT_MANY,
    ISSUE,
    ISSUE_LABEL,
    ISSUE_LABELS,
    ISSUE_MANY,
    NOTIFY,
    NOTIFY_MANY,
    POLL,
    REFUND,
    REFUND_MANY,
    VOID_LABEL,
    VOID_LABELS,
)
from rma.services.intake import submit_batch, submit_return
from rma.services.issuance import decide_review, issue, issue_many


def run_outbox(ctx: StageContext, engine: Engine, *, rounds: int = 20) -> list[str]:
    """Execute queued chains the way the workers would, with beat's notify dispatch before each round, until nothing
    is left; answers the task names run."""
    handlers = {
        ISSUE: lambda kw: issue(ctx, uuid.UUID(kw["return_id"])),
        ISSUE_MANY: lambda kw: issue_many(ctx, _ids(kw)),
        ISSUE_LABEL: lambda kw: labels.issue_label(ctx, uuid.UUID(kw["return_id"])),
        ISSUE_LABELS: lambda kw: labels.issue_labels(ctx, _ids(kw)),
        POLL: lambda kw: tracking.poll(ctx, _ids(kw)),
        INSPECT: lambda kw: inspection.inspect(
            ctx, uuid.UUID(kw["return_id"]), grade=Grade(kw["grade"]), inspector=kw["inspector"]
        ),
        INSPECT_MANY: lambda kw: inspection.auto_inspect_many(ctx, _ids(kw)),
        REFUND: lambda kw: refunds.issue_refund(ctx, uuid.UUID(kw["return_id"])),
        REFUND_MANY: lambda kw: refunds.issue_refunds(ctx, _ids(kw)),
        NOTIFY: lambda kw: notify.send_notifications(ctx, uuid.UUID(kw["return_id"])),
        NOTIFY_MANY: lambda kw: notify.send_batch(ctx, kw["notification_ids"]),
        CLOSE: lambda kw: closing.close(ctx, uuid.UUID(kw["return_id"])),
        CLOSE_MANY: lambda kw: closing.close_many(ctx, _ids(kw)),
        VOID_LABEL: lambda kw: labels.void_labels(ctx, [uuid.UUID(kw["return_id"])]),
        VOID_LABELS: lambda kw: labels.void_labels(ctx, _ids(kw)),
        APPLY_CARRIER_EVENTS: lambda kw: tracking.apply_events(ctx, [(c, e) for c, e in kw["events"]]),
    }
    ran: list[str] = []
    for _ in range(rounds):
        notify.dispatch(ctx, limit=1000, batch_size=100)
        with engine.begin() as conn:
            rows = conn.execute(select(OutboxRow.id, OutboxRow.message).order_by(OutboxRow.id)).all()
            conn.execute(delete(OutboxRow))
        if not rows:
            return ran
        for _, message in rows:
            for step in message["chain"]:
                handlers[step["task"]](step["kwargs"])
                ran.append(step["task"])
    return ran


def _ids(kwargs: dict[str, Any]) -> list[uuid.UUID]:
    return [uuid.UUID(raw) for raw in kwargs["return_ids"]]


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _status(ctx: StageContext, return_id: uuid.UUID) -> Status:
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        assert ret is not None
        return ret.status


def _deliver_everything(ctx: StageContext, engine: Engine, clock: ManualClock) -> None:
    for _ in range(12):  # two weeks of carrier time, polled every 6 hours
        clock.advance(timedelta(hours=30))
        tracking.tick(ctx, batch_size=10, max_batches=5)
        run_outbox(ctx, engine)


def test_a_defective_item_goes_all_the_way_to_closed(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx(auto_inspect=True)
    request = make_request(
        lines=[
            {**make_request().lines[0].model_dump(mode="json"), "reason_code": "DEFECTIVE", "condition": "used"},
        ],
        amount_captured=18298,
    )
    return_id = submit_return(ctx.uow(), request, now=clock.now(), due_at=ctx.machine_deadline()).return_id

    ran = run_outbox(ctx, engine)
    # authorized, then label_issued: each announced by a dispatched batch (customer messages are not chain steps)
    assert ran == [ISSUE, ISSUE_LABEL, NOTIFY_MANY, NOTIFY_MANY]
    assert _status(ctx, return_id) is Status.LABEL_ISSUED
    assert _count(engine, LabelRow, LabelRow.tracking_number.is_not(None)) == 1

    _deliver_everything(ctx, engine, clock)
    assert _status(ctx, return_id) is Status.DELIVERED

    clock.advance(timedelta(days=4))
    assert inspection.auto_tick(ctx, limit=10) == 1
    run_outbox(ctx, engine)
    assert _status(ctx, return_id) is Status.CLOSED

    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        assert ret is not None
    visited = [entry.to_status for entry in ret.timeline]
    assert visited[:5] == [
        Status.REQUESTED,
        Status.AUTHORIZED,
        Status.LABEL_ISSUED,
        Status.IN_TRANSIT,
        Status.DELIVERED,
    ]
    assert visited[-1] is Status.CLOSED
    assert _count(engine, SandboxLabelRow) == 1
    refunds_paid = _count(engine, SandboxRefundRow)
    assert refunds_paid == (1 if Status.REFUNDED in visited else 0)
    events = {row for row in visited if row in {Status.AUTHORIZED, Status.LABEL_ISSUED, Status.DELIVERED}}
    assert _count(engine, SandboxMessageRow) >= len(events)
    assert _count(engine, NotificationRow, NotificationRow.sent_at.is_(None)) == 0


def test_every_stage_run_twice_has_one_effect(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    return_id = submit_return(ctx.uow(), make_request(), now=clock.now(), due_at=ctx.machine_deadline()).return_id
    for _ in range(2):
        issue(ctx, return_id)
        labels.issue_label(ctx, return_id)
        notify.send_notifications(ctx, return_id)
    assert _count(engine, SandboxLabelRow) == 1
    assert _count(engine, SandboxMessageRow) == 2  # authorized, label_issued: once each

    # Straight to the warehouse and a grade, then the refund, each twice.
    _deliver_everything(ctx, engine, clock)
    assert _status(ctx, return_id) is Status.DELIVERED
    for _ in range(2):
        inspection.inspect(ctx, return_id, grade=Grade.AS_DESCRIBED, inspector="tester")
        refunds.issue_refund(ctx, return_id)
        closing.close(ctx, return_id)
        notify.send_notifications(ctx, return_id)
    assert _status(ctx, return_id) is Status.CLOSED
    assert _count(engine, SandboxRefundRow) == 1
    assert _count(engine, RefundRow, RefundRow.status == "succeeded") == 1
    sent = _count(engine, SandboxMessageRow)
    assert sent == _count(engine, NotificationRow)
    notify.send_notifications(ctx, return_id)
    assert _count(engine, SandboxMessageRow) == sent


def test_a_refund_interrupted_after_the_gateway_call_is_not_paid_twice(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    request = make_request(
        lines=[{**make_request().lines[1].model_dump(mode="json"), "unit_price": 900, "tax": 72}],
        amount_captured=18298,
    )
    return_id = submit_return(ctx.uow(), request, now=clock.now(), due_at=ctx.machine_deadline()).return_id
    issue(ctx, return_id)
    assert _status(ctx, return_id) is Status.REFUND_PENDING  # under 10 USD: refund without a return

    # The gateway is called, then the worker dies before committing: the gateway holds a refund we did not record.
    with ctx.uow() as uow:
        (pending,) = uow.refunds.of_return(return_id)
    ctx.gateway.refund_many(
        [
            RefundOrder(
                idempotency_key=pending.idempotency_key, payment_reference="x", amount=pending.amount, currency="USD"
            )
        ]
    )
    refunds.issue_refund(ctx, return_id)  # the retry
    assert _status(ctx, return_id) is Status.REFUNDED
    assert _count(engine, SandboxRefundRow) == 1


def test_a_label_interrupted_after_the_carrier_call_is_not_bought_twice(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    """A retry buys on the shipment reference an earlier attempt committed; the carrier answers it with the label it
    sold then, and no second shipment is opened."""
    ctx, carrier = _counting_carrier(make_ctx())
    first, second = (
        submit_return(ctx.uow(), make_request(), now=clock.now(), due_at=ctx.machine_deadline()).return_id
        for _ in range(2)
    )
    issue_many(ctx, [first, second])
    # An earlier attempt for `second` reserved its key, stored its shipment, bought the label, then died.
    with ctx.uow() as uow:
        assert uow.labels.reserve(
            second, idempotency_key=labels.label_key(second), carrier=carrier.name, at=clock.now()
        )
        assert not uow.labels.reserve(
            second, idempotency_key=labels.label_key(second), carrier=carrier.name, at=clock.now()
        )
        uow.labels.set_refs({second: labels.label_key(second)})
        uow.commit()
    with ctx.uow() as uow:
        rma_number = uow.returns.get(second).rma_number  # type: ignore[union-attr]
    earlier = carrier.inner.buy_labels(
        [
            LabelRequest(
                idempotency_key=labels.label_key(second),
                rma_number=rma_number,
                ship_from=make_request().return_from,
                weight_oz=32,
                provider_ref=labels.label_key(second),
            )
        ]
    )

    assert labels.issue_labels(ctx, [first, second]) == {first: Status.LABEL_ISSUED, second: Status.LABEL_ISSUED}
    assert carrier.open_calls == [1]  # only `first` needed a shipment
    assert carrier.buy_calls == [2]  # one purchase call for the batch
    assert _count(engine, SandboxLabelRow) == 2
    assert _count(engine, LabelRow, LabelRow.tracking_number.is_not(None)) == 2
    with ctx.uow() as uow:
        record = uow.labels.get(second)
    assert record is not None
    assert record.tracking_number == earlier[labels.label_key(second)].tracking_number  # type: ignore[union-attr]


def test_review_then_approval_and_the_reconciler(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    expensive = make_request(
        lines=[
            {**make_request().lines[0].model_dump(mode="json"), "unit_price": 90000, "tax": 0, "quantity_to_return": 1}
        ],
        amount_captured=200000,
    )
    return_id = submit_return(ctx.uow(), expensive, now=clock.now(), due_at=ctx.machine_deadline()).return_id
    with engine.begin() as conn:
        conn.execute(delete(OutboxRow))  # the broker lost the issuance message
    assert _status(ctx, return_id) is Status.REQUESTED

    clock.advance(timedelta(seconds=61))
    result = reconcile.reconcile(ctx, limit=100)
    assert result.redriven.get("requested") == 1
    run_outbox(ctx, engine)
    assert _status(ctx, return_id) is Status.PENDING_REVIEW

    decide_review(ctx, return_id, approve=True, note="checked the order")
    run_outbox(ctx, engine)
    assert _status(ctx, return_id) is Status.LABEL_ISSUED


def test_parcel_fates(make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock) -> None:
    """Lost parcels are refunded anyway; parcels sent back to the customer are cancelled; unused labels expire."""
    outcomes = {}
    for fate, mix in {
        "lost": JourneyMix(never_shipped=0, lost=1, returned_to_sender=0, damaged=0),
        "returned": JourneyMix(never_shipped=0, lost=0, returned_to_sender=1, damaged=0),
        "never_shipped": JourneyMix(never_shipped=1, lost=0, returned_to_sender=0, damaged=0),
    }.items():
        clock.current = NOW
        ctx = make_ctx(mix=mix)
        return_id = submit_return(
            ctx.uow(), make_request(order_id=f"o-{fate}"), now=clock.now(), due_at=ctx.machine_deadline()
        ).return_id
        run_outbox(ctx, engine)
        _deliver_everything(ctx, engine, clock)
        with ctx.uow() as uow:
            ret = uow.returns.get(return_id)
            assert ret is not None
        outcomes[fate] = [entry.to_status for entry in ret.timeline]
    assert outcomes["lost"][-5:] == [
        Status.IN_TRANSIT,
        Status.EXCEPTION,
        Status.REFUND_PENDING,
        Status.REFUNDED,
        Status.CLOSED,
    ]
    assert outcomes["returned"][-4:] == [Status.IN_TRANSIT, Status.EXCEPTION, Status.CANCELLED, Status.CLOSED]
    assert outcomes["never_shipped"][-3:] == [Status.LABEL_ISSUED, Status.EXPIRED, Status.CLOSED]


def test_a_batch_is_stored_in_bulk_and_issued_in_chunks(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    requests = [make_request(order_id=f"bulk-{i}") for i in range(250)]
    repeat = requests[3]
    results = submit_batch(ctx.uow, [*requests, repeat], now=clock.now(), due_at=ctx.machine_deadline())
    assert sum(r.created for r in results) == 250
    assert results[-1].return_id == results[3].return_id
    with engine.connect() as conn:
        messages = [m for (m,) in conn.execute(select(OutboxRow.message))]
    assert [len(m["chain"][0]["kwargs"]["return_ids"]) for m in messages] == [100, 100, 50]
    again = submit_batch(ctx.uow, requests[:10], now=clock.now(), due_at=ctx.machine_deadline())
    assert [r.return_id for r in again] == [r.return_id for r in results[:10]]
    assert not any(r.created for r in again)
    ran = run_outbox(ctx, engine)
    assert ran.count(ISSUE_MANY) == 3
    with ctx.uow() as uow:
        assert Status.REQUESTED not in uow.returns.count_by_status()


class CountingCarrier:
    """Wraps the sandbox carrier and counts its calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.track_calls: list[int] = []
        self.open_calls: list[int] = []
        self.buy_calls: list[int] = []
        self.polled: list[str] = []

    def open_shipments(self, requests: Any) -> Any:
        self.open_calls.append(len(requests))
        return self.inner.open_shipments(requests)

    def buy_labels(self, requests: Any) -> Any:
        self.buy_calls.append(len(requests))
        return self.inner.buy_labels(requests)

    def void_labels(self, asks: Any) -> Any:
        return self.inner.void_labels(asks)

    def track(self, parcels: Any) -> Any:
        self.track_calls.append(len(parcels))
        self.polled.extend(parcel.tracking_number for parcel in parcels)
        return self.inner.track(parcels)


def _counting_carrier(ctx: StageContext) -> tuple[StageContext, CountingCarrier]:
    carrier = CountingCarrier(ctx.carrier)
    return dataclasses.replace(ctx, carrier=carrier), carrier


def test_one_tick_selects_due_parcels_and_polls_one_carrier_call_per_batch(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx, carrier = _counting_carrier(make_ctx())
    requests = [make_request(order_id=f"poll-{i}") for i in range(120)]
    submit_batch(ctx.uow, requests, now=clock.now(), due_at=ctx.machine_deadline())
    run_outbox(ctx, engine)  # issued and labelled: 120 parcels waiting for their first poll
    clock.advance(timedelta(hours=3))
    assert tracking.tick(ctx, batch_size=50, max_batches=10) == 120
    with engine.connect() as conn:
        polls = [m["chain"][0]["kwargs"]["return_ids"] for (m,) in conn.execute(select(OutboxRow.message))]
    assert [len(batch) for batch in polls] == [50, 50, 20]
    assert tracking.tick(ctx, batch_size=50, max_batches=10) == 0  # leased: a second tick queues nothing
    run_outbox(ctx, engine)
    assert carrier.track_calls == [50, 50, 20]  # one carrier call per batch, not per return


def test_the_reconciler_waits_while_the_stage_queue_still_holds_messages(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    queued = {ISSUE: 5}
    ctx = make_ctx(backlog=lambda task: queued.get(task, 0))
    submit_return(ctx.uow(), make_request(), now=clock.now(), due_at=clock.now())
    with engine.begin() as conn:
        conn.execute(delete(OutboxRow))
    clock.advance(timedelta(minutes=5))
    deferred = reconcile.reconcile(ctx, limit=100)
    assert "requested" in deferred.deferred  # a backlog drains first: no duplicate issuance piled on top
    assert deferred.redriven.get("requested") is None
    queued[ISSUE] = 0
    assert reconcile.reconcile(ctx, limit=100).redriven.get("requested") == 1


def test_a_conflict_on_one_return_does_not_hold_up_its_poll_batch(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The movers of a batch share one transaction; a conflict on one of them (another writer got there first) rolls
    it back, and each return is then applied in a transaction of its own."""

    ctx = make_ctx()
    requests = [make_request(order_id=f"conflict-{i}") for i in range(4)]
    ids = [s.return_id for s in submit_batch(ctx.uow, requests, now=clock.now(), due_at=ctx.machine_deadline())]
    run_outbox(ctx, engine)
    victim, applied = ids[0], []
    real_apply = tracking._apply

    def conflicting(*args: Any, **kwargs: Any) -> None:
        ret = args[2]
        applied.append(ret.id)
        if ret.id == victim:
            raise ConcurrentUpdateError(f"return {ret.id} was changed by another writer")
        real_apply(*args, **kwargs)

    monkeypatch.setattr(tracking, "_apply", conflicting)
    clock.advance(timedelta(days=12))  # every parcel has news: delivered, lost, or its label expired
    with pytest.raises(ConcurrentUpdateError):
        tracking.poll(ctx, ids)
    assert applied.count(victim) == 2  # once in the batch, once alone
    assert _status(ctx, victim) is Status.LABEL_ISSUED  # its own transaction failed: the task retries it
    assert all(_status(ctx, rid) is not Status.LABEL_ISSUED for rid in ids[1:])


def test_the_reconciler_redrives_many_returns_in_batch_messages(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    requests = [make_request(order_id=f"lost-{i}") for i in range(60)]
    ids = [s.return_id for s in submit_batch(ctx.uow, requests, now=clock.now(), due_at=ctx.machine_deadline())]
    issue_many(ctx, ids)
    with engine.begin() as conn:
        conn.execute(delete(OutboxRow))  # the label messages are lost
    clock.advance(timedelta(minutes=5))
    assert reconcile.reconcile(ctx, limit=100).redriven == {"authorized": 60}
    with engine.begin() as conn:
        chains = [m["chain"] for (m,) in conn.execute(select(OutboxRow.message))]
        conn.execute(delete(OutboxRow))
    assert [[step["task"] for step in chain] for chain in chains] == [[ISSUE_LABELS]] * 6  # 10 ids each, not 60
    assert sorted(rid for chain in chains for rid in chain[0]["kwargs"]["return_ids"]) == sorted(map(str, ids))

    labels.issue_labels(ctx, ids)  # labelled; the polls never come, and the labels run out
    clock.advance(timedelta(days=15))
    assert reconcile.reconcile(ctx, limit=100).redriven == {"label_issued": 60}
    with engine.connect() as conn:
        chains = [m["chain"] for (m,) in conn.execute(select(OutboxRow.message))]
    assert [(chain[0]["task"], len(chain[0]["kwargs"]["return_ids"])) for chain in chains] == [(POLL, 50), (POLL, 10)]


def test_a_parcel_on_the_road_is_polled_at_its_delivery_estimate_and_no_news_is_missed(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    """Days on the road with nothing to report: the carrier's estimate sets the next poll (at most poll_max_gap ahead,
    24 h here against a 6 h poll interval), and every delivery is still seen within an hour of the estimate."""
    ctx, carrier = _counting_carrier(make_ctx(mix=JourneyMix(never_shipped=0, lost=0, returned_to_sender=0, damaged=0)))
    requests = [make_request(order_id=f"road-{i}") for i in range(12)]
    ids = [s.return_id for s in submit_batch(ctx.uow, requests, now=clock.now(), due_at=ctx.machine_deadline())]
    run_outbox(ctx, engine)
    with ctx.uow() as uow:
        parcels = uow.shipments.parcels(ids)
    numbers = {parcel.tracking_number: rid for rid, parcel in parcels.items()}
    journeys = {rid: journey_of(number, carrier.inner.mix) for number, rid in numbers.items()}
    labelled_at = clock.now()
    polls_on_road = dict.fromkeys(ids, 0)
    delivered_seen: dict[uuid.UUID, Any] = {}
    for _ in range(24 * 12):  # twelve days, hour by hour
        clock.advance(timedelta(hours=1))
        before = len(carrier.polled)
        tracking.tick(ctx, batch_size=50, max_batches=10)
        run_outbox(ctx, engine)
        for number in carrier.polled[before:]:
            rid = numbers[number]
            if clock.now() - labelled_at > journeys[rid].dropped_off_after:
                polls_on_road[rid] += 1
        for rid in ids:
            if (
                rid not in delivered_seen
                and _status(ctx, rid) is not Status.LABEL_ISSUED
                and _status(ctx, rid) is not Status.IN_TRANSIT
            ):
                delivered_seen[rid] = clock.now()
    for rid, journey in journeys.items():
        on_road = journey.delivered_after - journey.dropped_off_after
        # every 6 h would be on_road / 6 h polls; the estimate and the 24 h cap make it at most on_road / 24 h + 2
        assert polls_on_road[rid] <= on_road / timedelta(hours=24) + 2, (rid, polls_on_road[rid], on_road)
        assert delivered_seen[rid] - (labelled_at + journey.delivered_after) <= timedelta(hours=1)
