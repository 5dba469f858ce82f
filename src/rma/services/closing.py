"""Close settled returns (refunded, rejected, expired, cancelled)."""

from __future__ import annotations

import uuid

from rma.domain.lifecycle import SETTLED_STATUSES, Actor, Status
from rma.services.context import StageContext
from rma.services.issuance import load

CLOSABLE = SETTLED_STATUSES - {Status.CLOSED}


def close(ctx: StageContext, return_id: uuid.UUID) -> Status:
    with ctx.uow() as uow:
        ret = load(uow, return_id)
        if ret.status not in CLOSABLE:
            return ret.status
        ret.transition(Status.CLOSED, at=ctx.clock.now(), actor=Actor.SYSTEM, cause=f"closed after {ret.status}")
        uow.returns.save(ret)
        uow.commit()
        return ret.status
