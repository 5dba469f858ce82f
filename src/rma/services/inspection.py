"""Inspection: the warehouse grades what came back; the grade settles the refund. Late inspections are escalated.

In sandbox mode an auto-inspector stands in for the warehouse, grading with a realistic mix and sometimes late."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

from rma.domain.inspection import Grade, disposition_for
from rma.domain.lifecycle import Actor, Status
from rma.domain.policy.model import Fault
from rma.domain.requests import Condition
from rma.domain.returns import ReturnAuthorization
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.loading import load_many
from rma.services.ports import Step
from rma.services.refunds import lock_orders_and_read_histories, open_refund
from rma.services.steps import INSPECT, next_steps


def _draw(return_id: uuid.UUID, salt: str) -> float:
    return int.from_bytes(hashlib.sha256(f"{salt}:{return_id}".encode()).digest()[:8], "big") / 2**64


def auto_inspect_at(ctx: StageContext, return_id: uuid.UUID, now: datetime) -> datetime | None:
    if not ctx.auto_inspect:
        return None
    low, high = ctx.timing.auto_inspect_after
    return now + low + (high - low) * _draw(return_id, "delay")


NOT_REFUNDABLE_SHARE = 0.04  # of auto-inspected items, graded not refundable


def auto_grade(ret: ReturnAuthorization) -> Grade:
    """A realistic mix, leaning on what the customer reported: most items as described, a few not."""
    draw = _draw(ret.id, "grade")
    worst = max((line.condition for line in ret.request.lines), key=list(Condition).index)
    if draw < NOT_REFUNDABLE_SHARE:
        return Grade.NOT_REFUNDABLE
    if worst in {Condition.USED, Condition.DAMAGED} and draw < 0.30:
        return Grade.DAMAGED_BY_CUSTOMER
    if draw < 0.15:
        return Grade.OPENED
    return Grade.AS_DESCRIBED


def auto_tick(ctx: StageContext, *, limit: int) -> int:
    with ctx.uow() as uow:
        ids = uow.stores.inspections_for_auto(now=ctx.clock.now(), limit=limit)
        uow.stores.lease_auto_inspections(ids, until=ctx.machine_deadline())
        for return_id in ids:
            uow.stores.enqueue(Step(INSPECT, {"return_id": str(return_id)}))
        uow.commit()
    return len(ids)


def inspect(ctx: StageContext, return_id: uuid.UUID, *, grade: Grade | None, inspector: str) -> Status:
    """Record the grade (the auto-inspector's when `grade` is None) and settle the refund. Idempotent."""
    return inspect_many(ctx, [return_id], grade=grade, inspector=inspector)[return_id]


def inspect_many(
    ctx: StageContext, return_ids: Sequence[uuid.UUID], *, grade: Grade | None, inspector: str
) -> dict[uuid.UUID, Status]:
    """The same for a batch, in one transaction: returns no longer delivered are left as they are."""
    with ctx.uow() as uow:
        rets = load_many(uow, return_ids)
        now = ctx.clock.now()
        delivered = [ret for ret in rets if ret.status is Status.DELIVERED]
        histories = lock_orders_and_read_histories(uow, delivered)
        for ret in delivered:
            record = uow.stores.inspection(ret.id)
            if record is None:
                raise PermanentStageError(f"delivered return {ret.rma_number} has no inspection record")
            chosen = grade or auto_grade(ret)
            seller_fault = ret.decision is not None and any(line.fault is Fault.SELLER for line in ret.decision.lines)
            disposition = disposition_for(chosen, seller_fault=seller_fault)
            uow.stores.record_inspection(
                ret.id, grade=chosen, disposition=disposition.value, inspector=inspector, at=now
            )
            late = " (late)" if now > record.due_at else ""
            ret.transition(
                Status.INSPECTED,
                at=now,
                actor=Actor.INSPECTOR,
                cause=f"graded {chosen.value} by {inspector}{late}; disposition {disposition.value}",
            )
            open_refund(
                ctx, uow, ret, grade=chosen, cause=f"inspection grade {chosen.value}", history=histories.get(ret.id)
            )
            uow.returns.save(ret)
            uow.stores.enqueue(*next_steps(ret))
        uow.commit()
        return {ret.id: ret.status for ret in rets}


def escalate_overdue(ctx: StageContext, *, limit: int) -> Sequence[uuid.UUID]:
    """Flag inspections past their deadline (once each); answers the returns escalated, for the ops log."""
    with ctx.uow() as uow:
        ids = uow.stores.overdue_inspections(now=ctx.clock.now(), limit=limit)
        uow.stores.escalate_inspections(ids, at=ctx.clock.now())
        uow.commit()
    return ids
