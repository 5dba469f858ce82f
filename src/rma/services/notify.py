"""Notify: send the customer every message queued for a return, once each."""

from __future__ import annotations

import uuid

from rma.domain.lifecycle import Status
from rma.domain.notifications import CustomerMessage, render
from rma.faults import fault_point
from rma.services.context import StageContext
from rma.services.issuance import load


def send_notifications(ctx: StageContext, return_id: uuid.UUID) -> int:
    """Send what is pending for the return; answers how many were sent. Safe to run any number of times: the
    notifier de-duplicates on (return, event), and a message is marked sent only after the notifier took it."""
    with ctx.uow() as uow:
        pending = uow.stores.pending_notifications(return_id)
        if not pending:
            return 0  # the common case for a repeated or re-driven message: nothing to load, nothing to send
        ret = load(uow, return_id)
        reasons = ret.decision.reasons if ret.decision is not None else []
        messages: list[tuple[int, CustomerMessage]] = [
            (
                item.id,
                render(
                    return_id=str(ret.id),
                    rma_number=ret.rma_number,
                    event=item.event,
                    reasons=reasons,
                    detail=ret.attention_cause if item.event is Status.EXCEPTION else None,
                ),
            )
            for item in pending
        ]
        contact = ret.request.contact
    sent: list[tuple[int, str]] = [(nid, ctx.notifier.send(message, contact)) for nid, message in messages]
    if sent:
        fault_point("notify.after_send")
    if sent:
        with ctx.uow() as uow:
            now = ctx.clock.now()
            for nid, provider_id in sent:
                uow.stores.mark_notified(nid, provider_message_id=provider_id, at=now)
            uow.commit()
    return len(sent)
