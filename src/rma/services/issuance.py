"""Issuance: decide a stored request under the policy and give it an RMA number (unless rejected).

Also the manual review decision, which ends the same way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

from rma.domain.lifecycle import Actor, Status
from rma.domain.policy import Outcome, evaluate
from rma.domain.returns import ReturnAuthorization
from rma.domain.rma_numbers import format_rma_number
from rma.ports.unit_of_work import UnitOfWork
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.loading import load, load_many
from rma.services.refunds import open_refund


def _after_authorization(ctx: StageContext, uow: UnitOfWork, ret: ReturnAuthorization) -> None:
    """Authorized: returnless refunds go straight to the refund; the rest wait for their label."""
    now = ctx.clock.now()
    if ret.status is Status.AUTHORIZED and ret.decision is not None and ret.decision.returnless:
        open_refund(ctx, uow, ret, grade=None, cause="returnless refund: no need to send the item back")
    else:
        ret.due_at = ctx.deadline_for(ret.status, now=now)


def issue(ctx: StageContext, return_id: uuid.UUID) -> Status:
    """Decide the return and commit; running it again on a decided return changes nothing."""
    return issue_many(ctx, [return_id])[return_id]


def issue_many(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Status]:
    """Decide a batch of returns in one transaction; those already decided are left as they are.

    A batch takes its RMA serials as one block in a short transaction of its own first, so two issuance processes do
    not queue behind each other's counter lock for a whole batch; a serial left unused (a rejection, a rollback) is a
    gap, which nobody sees because serials are scrambled into RMA numbers."""
    serials: Iterator[int] | None = None
    if len(return_ids) > 1:
        with ctx.uow() as uow:
            serials = iter(uow.next_rma_serials(ctx.rma_prefix, len(return_ids)))
            uow.commit()
    with ctx.uow() as uow:
        rets = load_many(uow, return_ids)
        now = ctx.clock.now()
        requested = [ret for ret in rets if ret.status is Status.REQUESTED]
        # Read together up front; a return whose order has another in the batch reads its own after the first's
        # decision is flushed, so it sees the units that one claimed.
        histories = uow.returns.order_histories(requested)
        for ret in requested:
            history = histories.get(ret.id)
            if history is None:
                history = uow.returns.order_history(ret.channel, ret.request.order_id, excluding=ret.id)
            # The customer's rights are fixed when they ask, not when our queue gets to it: a backlog must never turn
            # an in-window request into an out-of-window one.
            decision = evaluate(ret.request, ctx.book, today=ret.created_at.date(), history=history)
            rma_number = None
            if decision.decision is not Outcome.REJECT:
                serial = next(serials) if serials is not None else uow.next_rma_serials(ctx.rma_prefix, 1)[0]
                rma_number = format_rma_number(ctx.rma_prefix, serial)
            target = {Outcome.AUTHORIZE: Status.AUTHORIZED, Outcome.REVIEW: Status.PENDING_REVIEW}.get(
                decision.decision, Status.REJECTED
            )
            ret.apply_decision(decision, rma_number=rma_number, at=now, due_at=ctx.deadline_for(target, now=now))
            _after_authorization(ctx, uow, ret)
            uow.returns.save(ret)
        uow.commit()
        return {ret.id: ret.status for ret in rets}


def decide_review(
    ctx: StageContext, return_id: uuid.UUID, *, approve: bool, note: str, reviewer: str = "operator"
) -> Status:
    """A person's decision on a return in manual review. Deciding an already decided return is refused."""
    with ctx.uow() as uow:
        ret = load(uow, return_id)
        if ret.status is not Status.PENDING_REVIEW:
            raise PermanentStageError(f"return {ret.rma_number or ret.id} is {ret.status}, not pending_review")
        now = ctx.clock.now()
        target = Status.AUTHORIZED if approve else Status.REJECTED
        cause = f"{'approved' if approve else 'rejected'} by {reviewer}" + (f": {note}" if note else "")
        actor = Actor.OPERATOR if reviewer != "auto-reviewer" else Actor.SYSTEM
        ret.transition(target, at=now, actor=actor, cause=cause[:500], due_at=ctx.deadline_for(target, now=now))
        if approve:
            _after_authorization(ctx, uow, ret)
        uow.returns.save(ret)
        uow.commit()
        return ret.status
