"""Tracking: a beat tick picks the parcels due for a poll; each poll task asks the carrier about a whole batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, time

from rma.domain.errors import DomainError
from rma.domain.lifecycle import Actor, Status
from rma.domain.policy.calendar import add_business_days
from rma.domain.returns import ReturnAuthorization
from rma.ports.messaging import Step
from rma.ports.providers import TrackedParcel, TrackingState, TrackingUpdate
from rma.ports.stores import CarrierEvent, Parcel, ParcelNews
from rma.ports.unit_of_work import UnitOfWork
from rma.services.context import StageContext
from rma.services.flow import APPLY_CARRIER_EVENTS, POLL, Timing
from rma.services.loading import load_many
from rma.services.refunds import open_refund

_STILL_TRAVELLING = frozenset({Status.LABEL_ISSUED, Status.IN_TRANSIT, Status.EXCEPTION})
_EXCEPTIONS = {
    TrackingState.LOST: "the carrier lost the parcel",
    TrackingState.DAMAGED: "the parcel was damaged in transit",
    TrackingState.RETURNED_TO_SENDER: "the carrier returned the parcel to the sender",
}
# The carrier's states that no rule of ours can settle: a person looks, with the carrier's own words.
_FOR_A_PERSON = {
    TrackingState.FAILURE: "the carrier could not deliver the parcel",
    TrackingState.CANCELLED: "the carrier cancelled the shipment",
    TrackingState.ERROR: "the carrier cannot track the parcel",
}
_NOT_YET_SHIPPED = frozenset({TrackingState.UNKNOWN, TrackingState.PRE_TRANSIT})
_ON_THE_ROAD = frozenset({TrackingState.IN_TRANSIT, TrackingState.OUT_FOR_DELIVERY, TrackingState.AVAILABLE_FOR_PICKUP})


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
    asked = [TrackedParcel(p.tracking_number, p.carrier, p.tracker_ref) for p in parcels.values()]
    updates = ctx.carrier.track(asked) if asked else {}
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
        # Nothing new: the same state on the road and no later scan (a new scan goes into the history).
        quiet = (
            update.state.value == last
            and update.state in _ON_THE_ROAD
            and update.at == parcel.last_event_at
            and not _silent_too_long(ctx, parcel, update, now)
        )
        not_yet_shipped = update.state in _NOT_YET_SHIPPED and last in {"label_created", "pre_transit", "unknown"}
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


def _silent_too_long(ctx: StageContext, parcel: Parcel, update: TrackingUpdate, now: datetime) -> bool:
    """A parcel on the road whose last scan is older than `lost_after`: probably lost, though no one said so."""
    last_scan = update.at or parcel.last_event_at
    return update.state in _ON_THE_ROAD and last_scan is not None and now - last_scan >= ctx.timing.lost_after


def _apply_all(
    ctx: StageContext,
    moving: dict[uuid.UUID, TrackingUpdate],
    *,
    webhook: bool = False,
    applied: Sequence[tuple[str, str]] = (),
) -> None:
    with ctx.uow() as uow:
        rets = load_many(uow, list(moving))
        parcels = uow.shipments.parcels([ret.id for ret in rets])
        news: list[ParcelNews] = []
        for ret in rets:
            if ret.id in parcels:
                _apply(ctx, uow, ret, moving[ret.id], parcels[ret.id], news, webhook=webhook)
        uow.shipments.record_news(news)  # one statement for the batch (and one for the new history events)
        uow.carrier_events.mark_applied(applied, at=ctx.clock.now())
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
    *,
    webhook: bool = False,
) -> None:
    """Move the return as the news says; add to `news` what to record of the parcel. News older than what we know
    (a webhook delivered late) goes into the history and moves nothing."""
    now = ctx.clock.now()
    state = update.state
    shipped_at = (update.at or now) if state not in _NOT_YET_SHIPPED else None
    next_poll: datetime | None = next_poll_at(now, update, ctx.timing)
    if webhook:
        next_poll = now + ctx.timing.poll_after_webhook
    stale = update.at is not None and parcel.last_event_at is not None and update.at < parcel.last_event_at
    if stale or ret.status not in _STILL_TRAVELLING:
        known = parcel.carrier_status if stale else state.value
        poll = next_poll if stale and ret.status in _STILL_TRAVELLING else None
        news.append(
            ParcelNews(ret.id, known, next_poll_at=poll, event_at=None, events=update.events, shipped_at=shipped_at)
        )
        return
    before = ret.status
    if state in _NOT_YET_SHIPPED:
        if ret.status is Status.LABEL_ISSUED and now >= parcel.expires_at:
            ret.transition(
                Status.EXPIRED,
                at=now,
                actor=Actor.CARRIER,
                cause="label expired: parcel never shipped",
                due_at=ctx.deadline_for(Status.EXPIRED, now=now),
            )
            next_poll = None
    elif state in _ON_THE_ROAD:
        if _on_the_road(ctx, ret, update, parcel, now):
            next_poll = None
    elif state is TrackingState.DELIVERED:
        _delivered(ctx, uow, ret, update)
        next_poll = None
    elif state in _FOR_A_PERSON:
        words = f": {update.detail}" if update.detail else ""
        ret.transition(
            Status.NEEDS_ATTENTION, at=now, actor=Actor.CARRIER, cause=f"{_FOR_A_PERSON[state]}{words}"[:500]
        )
        next_poll = None
    else:
        _exception(ctx, uow, ret, state)
        next_poll = None
    if ret.status is not before:
        uow.returns.save(ret)
    news.append(
        ParcelNews(
            ret.id,
            state.value,
            next_poll_at=next_poll,
            event_at=update.at,
            events=update.events,
            shipped_at=shipped_at,
            webhook_at=now if webhook else None,
        )
    )


def _on_the_road(
    ctx: StageContext, ret: ReturnAuthorization, update: TrackingUpdate, parcel: Parcel, now: datetime
) -> bool:
    """In transit; True when the parcel has been silent so long that a person must look (polling stops)."""
    if ret.status is not Status.IN_TRANSIT:
        ret.transition(
            Status.IN_TRANSIT,
            at=now,
            actor=Actor.CARRIER,
            cause=f"carrier scan: {update.state}",
            due_at=ctx.deadline_for(Status.IN_TRANSIT, now=now),
        )
    if not _silent_too_long(ctx, parcel, update, now):
        return False
    days = ctx.timing.lost_after.total_seconds() / 86400
    ret.transition(
        Status.NEEDS_ATTENTION,
        at=now,
        actor=Actor.CARRIER,
        cause=f"no carrier scan for {days:g} days: probably lost, claim with the carrier",
    )
    return True


# --- webhooks -------------------------------------------------------------------------------------------------


def receive_event(ctx: StageContext, event: CarrierEvent) -> bool:
    """Keep a carrier's webhook event and queue its application on the tracking queue, in one transaction; answers
    False for an event received before (a duplicate delivery), which changes nothing. Fast: no carrier call."""
    with ctx.uow() as uow:
        fresh = uow.carrier_events.add(event, at=ctx.clock.now())
        if fresh:
            uow.outbox.enqueue(Step(APPLY_CARRIER_EVENTS, {"events": [[event.carrier, event.event_id]]}))
        uow.commit()
    return fresh


def apply_events(ctx: StageContext, keys: Sequence[tuple[str, str]]) -> int:
    """Apply kept webhook events to the parcels they are about, oldest first per parcel; events about parcels we do
    not track are marked applied and change nothing. Answers how many events moved a parcel we track."""
    with ctx.uow() as uow:
        events = uow.carrier_events.get_many(keys)
        returns = uow.shipments.by_tracking_number([event.update.tracking_number for event in events])
    by_return: dict[uuid.UUID, TrackingUpdate] = {}
    # The latest news per parcel decides its state; every event's history is kept.
    for event in sorted(events, key=lambda e: e.update.at or datetime.min.replace(tzinfo=UTC)):
        return_id = returns.get(event.update.tracking_number)
        if return_id is None:
            continue
        earlier = by_return.get(return_id)
        history = (*earlier.events, *event.update.events) if earlier else event.update.events
        by_return[return_id] = replace(event.update, events=history)
    applied = [(event.carrier, event.event_id) for event in events]
    if by_return:
        _apply_all(ctx, by_return, webhook=True, applied=applied)
    elif applied:
        with ctx.uow() as uow:
            uow.carrier_events.mark_applied(applied, at=ctx.clock.now())
            uow.commit()
    return len(by_return)
