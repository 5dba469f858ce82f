"""Close settled returns (refunded, rejected, expired, cancelled)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from rma.domain.lifecycle import SETTLED_STATUSES, Actor, Status
from rma.services.context import StageContext
from rma.services.loading import load_many

CLOSABLE = SETTLED_STATUSES - {Status.CLOSED}


def close(ctx: StageContext, return_id: uuid.UUID) -> Status:
    return close_many(ctx, [return_id])[return_id]


def close_many(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Status]:
    """Close those of the returns that are settled, in one transaction; the others are left as they are."""
    with ctx.uow() as uow:
        rets = load_many(uow, return_ids)
        now = ctx.clock.now()
        for ret in rets:
            if ret.status in CLOSABLE:
                ret.transition(Status.CLOSED, at=now, actor=Actor.SYSTEM, cause=f"closed after {ret.status}")
                uow.returns.save(ret)
        uow.commit()
        return {ret.id: ret.status for ret in rets}
