"""Labels: buy one prepaid return label per return from the carrier, store it, start tracking.

The idempotency key (derived from the return) is committed before the carrier is called, and a retry first asks the
carrier for a label with that key: one label per return even if a worker dies between the call and the commit."""

from __future__ import annotations

import uuid

from rma.domain.lifecycle import Actor, Status
from rma.faults import fault_point
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.issuance import load
from rma.services.ports import LabelRequest


def label_key(return_id: uuid.UUID) -> str:
    return f"lbl-{return_id.hex}"


def issue_label(ctx: StageContext, return_id: uuid.UUID) -> Status:
    with ctx.uow() as uow:
        ret = load(uow, return_id)
        if ret.status is not Status.AUTHORIZED or (ret.decision is not None and ret.decision.returnless):
            return ret.status
        if ret.rma_number is None:
            raise PermanentStageError(f"authorized return {ret.id} has no RMA number")
        key = label_key(ret.id)
        uow.stores.reserve_label(ret.id, idempotency_key=key, carrier=ctx.carrier.name, at=ctx.clock.now())
        request = LabelRequest(idempotency_key=key, rma_number=ret.rma_number, ship_from=ret.request.return_from)
        uow.commit()
    # Outside any transaction: the carrier is a remote system.
    label = ctx.carrier.find_label(key) or ctx.carrier.create_label(request)
    fault_point("labels.after_carrier")
    with ctx.uow() as uow:
        ret = load(uow, return_id)
        if ret.status is not Status.AUTHORIZED:
            return ret.status
        now = ctx.clock.now()
        uow.stores.complete_label(ret.id, label, at=now)
        expires_at = now + ctx.timing.label_valid
        uow.stores.add_shipment(
            ret.id,
            tracking_number=label.tracking_number,
            next_poll_at=now + ctx.timing.first_poll_after,
            expires_at=expires_at,
        )
        ret.transition(
            Status.LABEL_ISSUED,
            at=now,
            actor=Actor.CARRIER,
            cause=f"{label.carrier} label {label.tracking_number}",
            due_at=expires_at,
        )
        uow.returns.save(ret)
        uow.commit()
        return ret.status
