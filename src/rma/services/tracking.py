"""Tracking: a beat tick picks the parcels due for a poll; each poll task asks the carrier about a whole batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time

from rma.domain.errors import DomainError
from rma.domain.lifecycle import Actor, Status
from rma.domain.policy.calendar import add_business_days
from rma.domain.returns import ReturnAuthorization
from rma.ports.messaging import Step
from rma.ports.providers import TrackingState, TrackingUpdate
from rma.ports.stores import Parcel, ParcelNews
from rma.ports.unit_of_work import UnitOfWork
from rma.services.context import StageContext
from rma.services.flow import POLL, Timing
from rma.services.loading import load_many
from rma.services.refunds import open_refund

_STILL_TRAVELLING = frozenset({Status.LABEL_ISSUED, Status.IN_TRANSIT, Status.EXCEPTION})
_EXCEPTIONS = {
    TrackingState.LOST: "the carrier lost the parcel",
    TrackingState.DAMAGED: "the parcel was damaged in transit",
    TrackingState.RETURNED_TO_SENDER: "the carrier returned the parcel to the sender",
}


def tick(ctx: StageContext, *, batch_size: int, max_batches: int) -> int:
    """Queue one poll task per batch of due parcels; answers how many parcels. Running it twice is harmless."""
    with ctx.uow() as uow:
        due = uow.shipments.due(now=ctx.clock.now(), limit=batch_size * max_batches)
        ids = [return_id for return_id, _ in due]
        # Lease them until the poll has had time to run; a lost poll is retried by a later tick.
        uow.shipments.lease(ids, until=ctx.machine_deadline())
        for start in range(0, len(ids), batch_size):
            uow.outbox.enqueue(Step(POLL, {"return_ids": [str(i) for i in ids[start : start + batch_size]]}))
        uow.commit()
    return len(ids)


def poll(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """One carrier call for the batch. Parcels whose news changes nothing are rescheduled together; the returns the
    news moves on are updated together in one transaction (one at a time if that fails: one return's conflict must
    not hold up the others). Answers a count per state."""
    with ctx.uow() as uow:
        parcels = uow.shipments.parcels(return_ids)
    updates = ctx.carrier.track([parcel.tracking_number for parcel in parcels.values()]) if parcels else {}
    now = ctx.clock.now()
    counts: dict[str, int] = {}
    unchanged: list[uuid.UUID] = []
    moving: dict[uuid.UUID, TrackingUpdate] = {}
    for return_id, parcel in parcels.items():
        update = updates.get(parcel.tracking_number)
        if update is None:
            continue
        counts[update.state.value] = counts.get(update.state.value, 0) + 1
        last = parcel.carrier_status
        quiet = update.state.value == last and update.state in {
            TrackingState.IN_TRANSIT,
            TrackingState.OUT_FOR_DELIVERY,
        }
        not_yet_shipped = update.state is TrackingState.PRE_TRANSIT and last in {"label_created", "pre_transit"}
        # Pre-transit parcels past their label's expiry are not "quiet": `_apply` expires them.
        if quiet or (not_yet_shipped and now < parcel.expires_at):
            unchanged.append(return_id)
        else:
            moving[return_id] = update
    if unchanged:
        with ctx.uow() as uow:
            uow.shipments.schedule_polls(
                {rid: next_poll_at(now, updates[parcels[rid].tracking_number], ctx.timing) for rid in unchanged}
            )
            uow.commit()
    if moving:
        try:
            _apply_all(ctx, moving)
        except DomainError:
            failed: list[DomainError] = []
            for return_id, update in moving.items():
                try:
                    _apply_all(ctx, {return_id: update})
                except DomainError as exc:
                    failed.append(exc)
            if failed:
                raise failed[0] from None  # the task retries the batch; those applied meanwhile are done
    return counts


def next_poll_at(now: datetime, update: TrackingUpdate, timing: Timing) -> datetime:
    """When to ask about a parcel again: at the carrier's delivery estimate while that lies ahead, but never more than
    `poll_max_gap` ahead (news between scans, such as a lost parcel, waits that long at most); otherwise after the
    regular interval. Most of a parcel's journey is days on the road with nothing to report: polling it every few
    hours spends the carrier's API quota for nothing, and polling at the estimate sees the delivery when it happens."""
    estimate = update.estimated_delivery
    if estimate is None or estimate <= now:
        return now + timing.poll_every
    return min(estimate, now + max(timing.poll_max_gap, timing.poll_every))


def _apply_all(ctx: StageContext, moving: dict[uuid.UUID, TrackingUpdate]) -> None:
    with ctx.uow() as uow:
        rets = load_many(uow, list(moving))
        parcels = uow.shipments.parcels([ret.id for ret in rets])
        news: list[ParcelNews] = []
        for ret in rets:
            if ret.id in parcels:
                _apply(ctx, uow, ret, moving[ret.id], parcels[ret.id], news)
        uow.shipments.record_news(news)  # one statement for the batch
        uow.commit()


def _end_of_business_day(day: datetime) -> datetime:
    return datetime.combine(day.date(), time(23, 59), tzinfo=UTC)


def _delivered(ctx: StageContext, uow: UnitOfWork, ret: ReturnAuthorization, update: TrackingUpdate) -> None:
    now = ctx.clock.now()
    policy = ctx.book.in_force(ret.request.order_date)
    days = policy.inspection.deadline_business_days if policy else 2
    calendar = policy.window.business_calendar if policy else "US"
    delivered_on = (update.at or now).date()
    due = _end_of_business_day(datetime.combine(add_business_days(delivered_on, days, calendar), time(), tzinfo=UTC))
    ret.transition(
        Status.DELIVERED, at=now, actor=Actor.CARRIER, cause="delivered to the returns warehouse", due_at=due
    )
    inspector = ctx.auto_inspector
    auto_at = inspector.inspect_at(ret.id, now) if inspector is not None else None
    uow.inspections.open(ret.id, due_at=due, auto_inspect_at=auto_at)


def _exception(ctx: StageContext, uow: UnitOfWork, ret: ReturnAuthorization, state: TrackingState) -> None:
    now = ctx.clock.now()
    if ret.status is Status.LABEL_ISSUED:
        ret.transition(Status.IN_TRANSIT, at=now, actor=Actor.CARRIER, cause="carrier scan")
    if ret.status is not Status.EXCEPTION:
        ret.transition(Status.EXCEPTION, at=now, actor=Actor.CARRIER, cause=_EXCEPTIONS[state])
    if state is TrackingState.RETURNED_TO_SENDER:
        ret.transition(
            Status.CANCELLED,
            at=now,
            actor=Actor.SYSTEM,
            cause="parcel went back to the customer",
            due_at=ctx.deadline_for(Status.CANCELLED, now=now),
        )
    else:
        open_refund(ctx, uow, ret, grade=None, cause=f"{_EXCEPTIONS[state]}: refunded, claim with the carrier")


def _apply(
    ctx: StageContext,
    uow: UnitOfWork,
    ret: ReturnAuthorization,
    update: TrackingUpdate,
    parcel: Parcel,
    news: list[ParcelNews],
) -> None:
    """Move the return as the news says; add to `news` what to record of the parcel."""
    now = ctx.clock.now()
    expires_at = parcel.expires_at
    state = update.state
    if ret.status not in _STILL_TRAVELLING:
        news.append(ParcelNews(ret.id, state.value, next_poll_at=None, event_at=update.at))
        return
    before = ret.status
    next_poll: datetime | None = next_poll_at(now, update, ctx.timing)
    if state is TrackingState.PRE_TRANSIT:
        if ret.status is Status.LABEL_ISSUED and now >= expires_at:
            ret.transition(
                Status.EXPIRED,
                at=now,
                actor=Actor.CARRIER,
                cause="label expired: parcel never shipped",
                due_at=ctx.deadline_for(Status.EXPIRED, now=now),
            )
            next_poll = None
    elif state in {TrackingState.IN_TRANSIT, TrackingState.OUT_FOR_DELIVERY}:
        if ret.status is not Status.IN_TRANSIT:
            ret.transition(
                Status.IN_TRANSIT,
                at=now,
                actor=Actor.CARRIER,
                cause=f"carrier scan: {state}",
                due_at=ctx.deadline_for(Status.IN_TRANSIT, now=now),
            )
    elif state is TrackingState.DELIVERED:
        _delivered(ctx, uow, ret, update)
        next_poll = None
    else:
        _exception(ctx, uow, ret, state)
        next_poll = None
    if ret.status is not before:
        uow.returns.save(ret)
    news.append(ParcelNews(ret.id, state.value, next_poll_at=next_poll, event_at=update.at))
