"""Notify: send the customer every message queued for a return, once each, in batches.

Stages write a notification row in the transaction of each visible status change. A beat tick hands the unsent rows
out in batch messages (ids only) and leases them; a batch task renders and sends its messages in one provider call and
marks them sent in one statement. A lost batch is handed out again by a later tick once its lease runs out, and the
notifier de-duplicates on (return, event), so a message is never sent twice and never dropped. Batching matters: a
return has about six visible status changes, and one task per change cost more than all its other stages together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from rma.domain.lifecycle import Status
from rma.domain.notifications import render
from rma.faults import fault_point
from rma.ports.messaging import Step
from rma.services.context import StageContext
from rma.services.flow import NOTIFY_MANY


def dispatch(ctx: StageContext, *, limit: int, batch_size: int) -> int:
    """Beat: lease unsent messages and queue them in batches of about `batch_size` (a return's messages stay in one
    batch, in order). Answers how many were handed out. Running it twice is harmless."""
    with ctx.uow() as uow:
        due = uow.notifications.to_dispatch(now=ctx.clock.now(), limit=limit)
        uow.notifications.lease([nid for nid, _ in due], until=ctx.machine_deadline())
        for batch in _batches(due, batch_size):
            uow.outbox.enqueue(Step(NOTIFY_MANY, {"notification_ids": batch}))
        uow.commit()
    return len(due)


def _batches(due: Sequence[tuple[int, uuid.UUID]], size: int) -> list[list[int]]:
    by_return: dict[uuid.UUID, list[int]] = {}
    for nid, return_id in due:
        by_return.setdefault(return_id, []).append(nid)
    batches: list[list[int]] = [[]]
    for ids in by_return.values():
        if batches[-1] and len(batches[-1]) + len(ids) > size:
            batches.append([])
        batches[-1].extend(sorted(ids))
    return [batch for batch in batches if batch]


def send_batch(ctx: StageContext, notification_ids: Sequence[int]) -> int:
    """Render and send the unsent messages among `notification_ids`; answers how many were sent. Safe to run any
    number of times: sent ones are skipped, and a message is marked sent only after the notifier took it."""
    with ctx.uow() as uow:
        outgoing = uow.notifications.outgoing(notification_ids)
    if not outgoing:
        return 0  # the common case for a repeated or re-driven message: nothing to send
    messages = [
        (
            render(
                return_id=str(item.return_id),
                rma_number=item.rma_number,
                event=item.event,
                reasons=item.reasons,
                detail=item.attention_cause if item.event is Status.EXCEPTION else None,
            ),
            item.contact,
        )
        for item in outgoing
    ]
    provider_ids = ctx.notifier.send_many(messages)
    fault_point("notify.after_send")
    with ctx.uow() as uow:
        uow.notifications.mark_sent(
            [(item.id, provider_id) for item, provider_id in zip(outgoing, provider_ids, strict=True)],
            at=ctx.clock.now(),
        )
        uow.commit()
    return len(outgoing)


def send_notifications(ctx: StageContext, return_id: uuid.UUID) -> int:
    """Send what is pending for one return now (the per-return task: replays and upstream callers)."""
    with ctx.uow() as uow:
        pending = uow.notifications.pending(return_id)
    return send_batch(ctx, pending)
