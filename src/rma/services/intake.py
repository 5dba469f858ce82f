"""Intake: store a return request exactly once per (channel, upstream request id)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rma.domain.errors import DuplicateRequestError
from rma.domain.requests import ReturnRequest
from rma.domain.returns import ReturnAuthorization
from rma.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Submitted:
    return_id: uuid.UUID
    created: bool
    """False when the request had been received before: the existing return is answered, nothing new is made."""


def submit_return(
    uow: UnitOfWork, request: ReturnRequest, *, now: datetime, new_id: Callable[[], uuid.UUID] = uuid.uuid4
) -> Submitted:
    with uow:
        existing = uow.returns.get_by_upstream(request.channel, request.upstream_request_id)
        if existing is not None:
            return Submitted(existing.id, created=False)
        ret = ReturnAuthorization.receive(request, return_id=new_id(), at=now)
        uow.returns.add(ret)
        try:
            uow.commit()
        except DuplicateRequestError:
            pass  # a concurrent submission of the same request won the race: answer with its return
        else:
            return Submitted(ret.id, created=True)
    with uow:
        winner = uow.returns.get_by_upstream(request.channel, request.upstream_request_id)
        if winner is None:  # the unique key fired, so the winner's row exists unless it was deleted since
            raise DuplicateRequestError(f"request {request.upstream_request_id} collided but cannot be found")
        return Submitted(winner.id, created=False)
