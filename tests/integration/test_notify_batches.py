"""Customer messages go out in batches handed out by a dispatch tick: in order per return, once each, none dropped."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from tests.conftest import ManualClock
from tests.integration.test_stage_flow import _count

from rma.adapters.db.tables import NotificationRow, OutboxRow
from rma.adapters.sandbox.tables import SandboxMessageRow
from rma.domain.lifecycle import Status
from rma.services import labels, notify
from rma.services.context import StageContext
from rma.services.flow import NOTIFY_MANY
from rma.services.intake import submit_return
from rma.services.issuance import issue


def _authorized_with_label(ctx: StageContext, make_request: Any, clock: ManualClock, n: int) -> list[uuid.UUID]:
    ids = []
    for i in range(n):
        request = make_request(upstream_request_id=f"notify-{i}", order_id=f"ORD-N-{i}")
        return_id = submit_return(ctx.uow(), request, now=clock.now(), due_at=ctx.machine_deadline()).return_id
        assert issue(ctx, return_id) is Status.AUTHORIZED
        assert labels.issue_label(ctx, return_id) is Status.LABEL_ISSUED
        ids.append(return_id)
    return ids


def _batches(engine: Engine) -> list[list[int]]:
    """The batch messages queued so far (and clear the outbox, as the relay would after publishing)."""
    with engine.begin() as conn:
        messages = conn.scalars(select(OutboxRow.message).order_by(OutboxRow.id)).all()
        conn.execute(delete(OutboxRow))
    return [
        step["kwargs"]["notification_ids"]
        for message in messages
        for step in message["chain"]
        if step["task"] == NOTIFY_MANY
    ]


def test_dispatch_keeps_a_returns_messages_together_in_order_and_leases_them(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    ids = _authorized_with_label(ctx, make_request, clock, 5)
    _batches(engine)

    # Two messages per return (authorized, label_issued); batches of 3 cannot split a return's pair.
    assert notify.dispatch(ctx, limit=100, batch_size=3) == 10
    batches = _batches(engine)
    assert [len(batch) for batch in batches] == [2, 2, 2, 2, 2]
    with engine.connect() as conn:
        events = dict(conn.execute(select(NotificationRow.id, NotificationRow.event)).all())
        owner = dict(conn.execute(select(NotificationRow.id, NotificationRow.return_id)).all())
    for batch in batches:
        assert [events[nid] for nid in batch] == ["authorized", "label_issued"]
        assert len({owner[nid] for nid in batch}) == 1
    assert {owner[batch[0]] for batch in batches} == set(ids)

    # Leased: a second tick hands out nothing until the lease runs out.
    assert notify.dispatch(ctx, limit=100, batch_size=3) == 0
    assert _batches(engine) == []

    for batch in batches:
        assert notify.send_batch(ctx, batch) == 2
    assert _count(engine, SandboxMessageRow) == 10
    assert _count(engine, NotificationRow, NotificationRow.sent_at.is_(None)) == 0
    # A batch delivered twice (at-least-once) sends nothing the second time.
    assert notify.send_batch(ctx, batches[0]) == 0
    assert _count(engine, SandboxMessageRow) == 10


def test_a_lost_batch_is_handed_out_again_after_its_lease_and_sent_once(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    _authorized_with_label(ctx, make_request, clock, 2)
    _batches(engine)
    assert notify.dispatch(ctx, limit=100, batch_size=100) == 4
    lost = _batches(engine)  # published, then lost with the broker

    clock.advance(timedelta(seconds=ctx.timing.redrive_after_seconds + 1))
    assert notify.dispatch(ctx, limit=100, batch_size=100) == 4
    again = _batches(engine)
    assert sorted(nid for batch in again for nid in batch) == sorted(nid for batch in lost for nid in batch)
    for batch in again + lost:  # the "lost" one turns up after all: nothing is sent twice
        notify.send_batch(ctx, batch)
    assert _count(engine, SandboxMessageRow) == 4
    assert _count(engine, NotificationRow, NotificationRow.sent_at.is_(None)) == 0


def test_a_return_with_a_message_in_flight_waits_for_it(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx = make_ctx()
    request = make_request(upstream_request_id="in-flight", order_id="ORD-IF")
    return_id = submit_return(ctx.uow(), request, now=clock.now(), due_at=ctx.machine_deadline()).return_id
    issue(ctx, return_id)
    assert notify.dispatch(ctx, limit=100, batch_size=100) == 1  # authorized, now in flight
    labels.issue_label(ctx, return_id)
    # label_issued must not overtake the authorized message still in flight.
    assert notify.dispatch(ctx, limit=100, batch_size=100) == 0
    (first,) = [batch for batch in _batches(engine) if batch]
    assert notify.send_batch(ctx, first) == 1
    assert notify.dispatch(ctx, limit=100, batch_size=100) == 1
    (second,) = _batches(engine)
    assert notify.send_batch(ctx, second) == 1
    with engine.connect() as conn:
        sent = conn.scalars(select(SandboxMessageRow.event).order_by(SandboxMessageRow.sent_at)).all()
    assert sorted(sent) == ["authorized", "label_issued"]


def test_send_batch_ignores_unknown_ids(make_ctx: Any) -> None:
    assert notify.send_batch(make_ctx(), [987654321, 987654322]) == 0
