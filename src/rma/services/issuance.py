"""Issuance: decide a stored request under the policy, give it an RMA number (unless rejected), queue what follows.

Also the manual review decision, which ends the same way."""

from __future__ import annotations

import uuid

from rma.domain.lifecycle import Actor, Status
from rma.domain.policy import Outcome, evaluate
from rma.domain.returns import ReturnAuthorization
from rma.domain.rma_numbers import format_rma_number
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError, ReturnNotFoundError
from rma.services.ports import UnitOfWork
from rma.services.refunds import open_refund
from rma.services.steps import next_steps


def load(uow: UnitOfWork, return_id: uuid.UUID) -> ReturnAuthorization:
    ret = uow.returns.get(return_id)
    if ret is None:
        raise ReturnNotFoundError(f"no return {return_id}")
    return ret


def _after_authorization(ctx: StageContext, uow: UnitOfWork, ret: ReturnAuthorization) -> None:
    """Authorized: returnless refunds go straight to the refund; the rest wait for their label."""
    now = ctx.clock.now()
    if ret.status is Status.AUTHORIZED and ret.decision is not None and ret.decision.returnless:
        open_refund(ctx, uow, ret, grade=None, cause="returnless refund: no need to send the item back")
    else:
        ret.due_at = ctx.deadline_for(ret.status, now=now)


def issue(ctx: StageContext, return_id: uuid.UUID) -> Status:
    """Decide the return and commit; running it again on a decided return changes nothing."""
    with ctx.uow() as uow:
        ret = load(uow, return_id)
        if ret.status is not Status.REQUESTED:
            return ret.status
        now = ctx.clock.now()
        history = uow.returns.order_history(ret.channel, ret.request.order_id, excluding=ret.id)
        # The customer's rights are fixed when they ask, not when our queue gets to it: a backlog must never turn an
        # in-window request into an out-of-window one.
        decision = evaluate(ret.request, ctx.book, today=ret.created_at.date(), history=history)
        rma_number = None
        if decision.decision is not Outcome.REJECT:
            rma_number = format_rma_number(ctx.rma_prefix, uow.next_rma_serial(ctx.rma_prefix))
        target = {Outcome.AUTHORIZE: Status.AUTHORIZED, Outcome.REVIEW: Status.PENDING_REVIEW}.get(
            decision.decision, Status.REJECTED
        )
        ret.apply_decision(decision, rma_number=rma_number, at=now, due_at=ctx.deadline_for(target, now=now))
        _after_authorization(ctx, uow, ret)
        uow.returns.save(ret)
        uow.stores.enqueue(*next_steps(ret))
        uow.commit()
        return ret.status


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
        uow.stores.enqueue(*next_steps(ret))
        uow.commit()
        return ret.status
