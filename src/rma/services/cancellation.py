"""Cancelling a return before its parcel ships: the customer changed their mind, or the upstream order system
withdrew the request. The unused label is then voided at the carrier by the flow (`VOID_LABEL` before closing)."""

from __future__ import annotations

import uuid

from rma.domain.lifecycle import Actor, Status
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.loading import load

CANCELLABLE = frozenset({Status.PENDING_REVIEW, Status.AUTHORIZED, Status.LABEL_ISSUED})


class NotCancellableError(PermanentStageError):
    """The return is past the point where it can be cancelled (its parcel travels, or it is settled)."""


def cancel(ctx: StageContext, return_id: uuid.UUID, *, reason: str, actor: Actor) -> Status:
    with ctx.uow() as uow:
        ret = load(uow, return_id)
        if ret.status is Status.CANCELLED:
            return ret.status  # asked twice: the first one did it
        if ret.status not in CANCELLABLE:
            raise NotCancellableError(
                f"return {ret.rma_number or ret.id} is {ret.status.value}: only a return not yet shipped can be "
                "cancelled"
            )
        parcel = uow.shipments.parcels([ret.id]).get(ret.id)
        if parcel is not None and parcel.shipped_at is not None:
            raise NotCancellableError(f"return {ret.rma_number or ret.id}: the carrier has already scanned the parcel")
        now = ctx.clock.now()
        ret.transition(
            Status.CANCELLED,
            at=now,
            actor=actor,
            cause=f"cancelled: {reason}"[:500],
            due_at=ctx.deadline_for(Status.CANCELLED, now=now),
        )
        uow.returns.save(ret)
        uow.commit()
        return ret.status
