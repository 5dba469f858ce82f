"""Issuance: decide a stored request under the policy and give it an RMA number (unless rejected)."""

from __future__ import annotations

import uuid
from datetime import datetime

from rma.domain.errors import DomainError
from rma.domain.lifecycle import Status
from rma.domain.policy import Outcome, PolicyBook, evaluate
from rma.domain.rma_numbers import format_rma_number
from rma.services.ports import UnitOfWork


class ReturnNotFoundError(DomainError):
    """No return with that id."""


def issue(uow: UnitOfWork, return_id: uuid.UUID, *, book: PolicyBook, prefix: str, now: datetime) -> Status:
    """Decide the return and commit; running it again on a decided return changes nothing."""
    with uow:
        ret = uow.returns.get(return_id)
        if ret is None:
            raise ReturnNotFoundError(f"no return {return_id}")
        if ret.status is not Status.REQUESTED:
            return ret.status
        history = uow.returns.order_history(ret.channel, ret.request.order_id, excluding=ret.id)
        decision = evaluate(ret.request, book, today=now.date(), history=history)
        rma_number = None
        if decision.decision is not Outcome.REJECT:
            rma_number = format_rma_number(prefix, uow.next_rma_serial(prefix))
        ret.apply_decision(decision, rma_number=rma_number, at=now)
        uow.returns.save(ret)
        uow.commit()
        return ret.status
