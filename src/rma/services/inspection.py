"""Inspection: the warehouse grades what came back; the grade settles the refund. Late inspections are escalated.

A grade always comes from someone: a person (through the API, the CLI or a message that names the grade) or, in the
sandbox only, the auto-inspector stand-in the composition root wires in (`StageContext.auto_inspector`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from rma.domain.inspection import Grade, disposition_for
from rma.domain.lifecycle import Actor, Status
from rma.domain.policy.model import Fault
from rma.domain.returns import ReturnAuthorization
from rma.ports.messaging import Step
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.flow import INSPECT_MANY
from rma.services.loading import load_many
from rma.services.refunds import lock_orders_and_read_histories, open_refund

AUTO_BATCH = 50  # delivered returns per auto-inspection message


def auto_tick(ctx: StageContext, *, limit: int) -> int:
    """Beat (sandbox): hand the delivered parcels whose turn has come to the auto-inspector, in batches."""
    if ctx.auto_inspector is None:
        return 0
    with ctx.uow() as uow:
        ids = uow.inspections.due_for_auto(now=ctx.clock.now(), limit=limit)
        uow.inspections.lease_auto(ids, until=ctx.machine_deadline())
        for start in range(0, len(ids), AUTO_BATCH):
            batch = [str(rid) for rid in ids[start : start + AUTO_BATCH]]
            uow.outbox.enqueue(Step(INSPECT_MANY, {"return_ids": batch}))
        uow.commit()
    return len(ids)


def inspect(ctx: StageContext, return_id: uuid.UUID, *, grade: Grade, inspector: str) -> Status:
    """Record a person's grade and settle the refund. Idempotent: a return no longer delivered is left as it is."""
    return _inspect_many(ctx, [return_id], lambda _ret: grade, inspector=inspector)[return_id]


def auto_inspect_many(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Status]:
    """The sandbox auto-inspector's grades for a batch of delivered returns, in one transaction."""
    stand_in = ctx.auto_inspector
    if stand_in is None:
        raise PermanentStageError("no auto-inspector runs here: a grade must come from a person")
    return _inspect_many(ctx, return_ids, stand_in.grade, inspector=stand_in.name)


def _inspect_many(
    ctx: StageContext,
    return_ids: Sequence[uuid.UUID],
    grade_of: Callable[[ReturnAuthorization], Grade],
    *,
    inspector: str,
) -> dict[uuid.UUID, Status]:
    with ctx.uow() as uow:
        rets = load_many(uow, return_ids)
        now = ctx.clock.now()
        delivered = [ret for ret in rets if ret.status is Status.DELIVERED]
        histories = lock_orders_and_read_histories(uow, delivered)
        records = uow.inspections.get_many([ret.id for ret in delivered])
        decided = uow.refunds.of_returns([ret.id for ret in delivered])
        for ret in delivered:
            record = records.get(ret.id)
            if record is None:
                raise PermanentStageError(f"delivered return {ret.rma_number} has no inspection record")
            chosen = grade_of(ret)
            seller_fault = ret.decision is not None and any(line.fault is Fault.SELLER for line in ret.decision.lines)
            disposition = disposition_for(chosen, seller_fault=seller_fault)
            uow.inspections.record(ret.id, grade=chosen, disposition=disposition.value, inspector=inspector, at=now)
            late = " (late)" if now > record.due_at else ""
            ret.transition(
                Status.INSPECTED,
                at=now,
                actor=Actor.INSPECTOR,
                cause=f"graded {chosen.value} by {inspector}{late}; disposition {disposition.value}",
            )
            open_refund(
                ctx,
                uow,
                ret,
                grade=chosen,
                cause=f"inspection grade {chosen.value}",
                history=histories.get(ret.id),
                refunds_before=len(decided.get(ret.id, [])),
            )
            uow.returns.save(ret)
        uow.commit()
        return {ret.id: ret.status for ret in rets}


def escalate_overdue(ctx: StageContext, *, limit: int) -> Sequence[uuid.UUID]:
    """Flag inspections past their deadline (once each); answers the returns escalated, for the ops log."""
    with ctx.uow() as uow:
        ids = uow.inspections.overdue(now=ctx.clock.now(), limit=limit)
        uow.inspections.escalate(ids, at=ctx.clock.now())
        uow.commit()
    return ids
