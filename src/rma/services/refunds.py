"""Refunds: decide the amount (policy + grade) once, then pay it through the gateway exactly once.

The refund row and its idempotency key are committed with the refund_pending transition, before the gateway is
called. The gateway call happens outside any transaction; a retry first asks the gateway whether a refund with that
key exists, so a worker killed between the call and the commit never causes a second refund.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from rma.domain.inspection import Grade, settle_refund
from rma.domain.lifecycle import Actor, Status
from rma.domain.policy.evaluate import OrderHistory
from rma.domain.returns import ReturnAuthorization
from rma.faults import fault_point
from rma.ports.providers import GatewayRefund, ProviderError, RefundDeclined, RefundOrder
from rma.ports.stores import RefundStatus
from rma.ports.unit_of_work import UnitOfWork
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.loading import load_many


def open_refund(
    ctx: StageContext,
    uow: UnitOfWork,
    ret: ReturnAuthorization,
    *,
    grade: Grade | None,
    cause: str,
    history: OrderHistory | None = None,
    refunds_before: int | None = None,
) -> None:
    """Decide what is owed and move to refund_pending (or close when nothing is owed). Caller saves and commits.

    `history`: the order's history read in this transaction after the caller took the order's lock (a batch reads
    them together, see `lock_orders_and_read_histories`); when None, the lock is taken and the history read here.
    `refunds_before`: how many refund decisions the return has had (a batch reads them together), read if None."""
    if ret.decision is None:
        raise PermanentStageError(f"return {ret.id} has no policy decision to refund against")
    policy = ctx.book.in_force(ret.request.order_date)
    if policy is None:
        raise PermanentStageError(f"no policy in force for the order date of return {ret.id}")
    now = ctx.clock.now()
    if history is None:
        uow.lock_order(ret.channel, ret.request.order_id)  # two returns of one order cannot both take the same room
        history = uow.returns.order_history(ret.channel, ret.request.order_id, excluding=ret.id)
    quote = settle_refund(ret.request, ret.decision, policy, grade, history)
    if quote.amount == 0:
        target = Status.CLOSED if ret.status is Status.INSPECTED else Status.CANCELLED
        ret.transition(target, at=now, actor=Actor.POLICY, cause=f"{cause}; nothing to refund")
        ret.due_at = ctx.deadline_for(target, now=now)
        return
    if refunds_before is None:
        refunds_before = len(uow.refunds.of_return(ret.id))
    key = f"rf-{ret.id.hex}-{refunds_before + 1}"
    uow.refunds.create(
        ret, idempotency_key=key, amount=quote.amount, lines={x.order_line_id: x.amount for x in quote.lines}, at=now
    )
    ret.transition(
        Status.REFUND_PENDING,
        at=now,
        actor=Actor.POLICY,
        cause=f"{cause}; refund {quote.amount} {quote.currency}",
        due_at=ctx.machine_deadline(),
    )


def lock_orders_and_read_histories(
    uow: UnitOfWork, rets: Sequence[ReturnAuthorization]
) -> dict[uuid.UUID, OrderHistory]:
    """Take the order locks of a batch (in the batch's order: see `load_many`), then read in two queries the
    histories of the returns whose order has no other return in the batch; pass them to `open_refund`."""
    for ret in rets:
        uow.lock_order(ret.channel, ret.request.order_id)
    return uow.returns.order_histories(rets)


def issue_refund(ctx: StageContext, return_id: uuid.UUID) -> Status:
    """Pay the pending refund of a return. Safe to run any number of times."""
    return issue_refunds(ctx, [return_id])[return_id]


def issue_refunds(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Status]:
    """Pay the pending refunds of a batch: the gateway called for the whole batch, outside any transaction, then
    every outcome recorded in one transaction. Returns not refund_pending are left as they are. Safe to run any
    number of times."""
    orders: dict[uuid.UUID, RefundOrder] = {}
    with ctx.uow() as uow:
        due = [ret for ret in load_many(uow, return_ids) if ret.status is Status.REFUND_PENDING]
        decisions = uow.refunds.of_returns([ret.id for ret in due])
        for ret in due:
            pending = [r for r in decisions.get(ret.id, []) if r.status is not RefundStatus.FAILED]
            if not pending:
                raise PermanentStageError(
                    f"return {ret.rma_number or ret.id} is refund_pending without a refund decision"
                )
            orders[ret.id] = RefundOrder(
                idempotency_key=pending[-1].idempotency_key,
                payment_reference=f"{ret.channel}:{ret.request.order_id}",
                amount=pending[-1].amount,
                currency=pending[-1].currency,
            )
    paid, declined = _pay(ctx, list(orders.values()))
    fault_point("refunds.after_gateway")
    with ctx.uow() as uow:
        rets = load_many(uow, return_ids)
        now = ctx.clock.now()
        for ret in rets:
            if ret.status is not Status.REFUND_PENDING or ret.id not in orders:
                continue
            key = orders[ret.id].idempotency_key
            if key in declined:
                cause = declined[key]
                uow.refunds.fail(key, cause=cause, at=now)
                ret.transition(
                    Status.REFUND_FAILED, at=now, actor=Actor.GATEWAY, cause=f"gateway declined: {cause}"[:500]
                )
                ret.flag(f"refund declined by the gateway: {cause}", at=now)
            else:
                result = paid[key]
                uow.refunds.settle(key, gateway_refund_id=result.refund_id, at=now)
                ret.transition(
                    Status.REFUNDED,
                    at=now,
                    actor=Actor.GATEWAY,
                    cause=f"refund {result.refund_id}: {result.amount} {result.currency}",
                    due_at=ctx.machine_deadline(),
                )
            uow.returns.save(ret)
        uow.commit()
        return {ret.id: ret.status for ret in rets}


def _pay(ctx: StageContext, orders: list[RefundOrder]) -> tuple[dict[str, GatewayRefund], dict[str, str]]:
    """The gateway's answer per idempotency key: paid, or declined with its reason.

    Outside any transaction: the gateway is a remote system, asked once for the refunds an earlier attempt may have
    made, then once for the rest. A transient failure raises (the task retries the batch); a permanent failure of
    the whole call declines every refund in it."""
    if not orders:
        return {}, {}
    answers: dict[str, GatewayRefund | RefundDeclined] = dict(
        ctx.gateway.find_refunds([order.idempotency_key for order in orders])
    )
    missing = [order for order in orders if order.idempotency_key not in answers]
    if missing:
        try:
            answers |= ctx.gateway.refund_many(missing)
        except ProviderError as exc:
            if exc.transient:
                raise
            answers |= {order.idempotency_key: RefundDeclined(str(exc)) for order in missing}
    paid: dict[str, GatewayRefund] = {}
    declined: dict[str, str] = {}
    for order in orders:
        answer = answers.get(order.idempotency_key)
        if answer is None:
            raise ProviderError(f"the gateway gave no answer for refund {order.idempotency_key}", transient=True)
        if isinstance(answer, RefundDeclined):
            declined[order.idempotency_key] = answer.reason
        else:
            paid[order.idempotency_key] = answer
    return paid, declined
