"""Intake: store a return request exactly once per (channel, upstream request id); its issuance follows at commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import uuid_utils.compat

from rma.domain.errors import DuplicateRequestError
from rma.domain.requests import ReturnRequest
from rma.domain.returns import ReturnAuthorization
from rma.ports.unit_of_work import UnitOfWork


def new_return_id() -> uuid.UUID:
    """A time-ordered id (UUIDv7): new returns land at the right edge of the primary key and of the indexes that refer
    to it, instead of on random pages of ever larger indexes; and no system call per id (uuid4 reads os.urandom, and
    each read lets another thread of the API take the interpreter)."""
    return uuid_utils.compat.uuid7()


@dataclass(frozen=True, slots=True)
class Submitted:
    return_id: uuid.UUID
    created: bool
    """False when the request had been received before: the existing return is answered, nothing new is made."""


def _receive(uow: UnitOfWork, request: ReturnRequest, now: datetime, due_at: datetime) -> ReturnAuthorization:
    ret = ReturnAuthorization.receive(request, return_id=new_return_id(), at=now, due_at=due_at)
    uow.returns.add(ret)
    return ret


def submit_return(uow: UnitOfWork, request: ReturnRequest, *, now: datetime, due_at: datetime) -> Submitted:
    """Store the request and queue its issuance in one transaction; a repeat answers with the first return.

    `due_at`: when the reconciler re-drives the issuance if its message was lost."""
    with uow:
        existing = uow.returns.get_by_upstream(request.channel, request.upstream_request_id)
        if existing is not None:
            return Submitted(existing.id, created=False)
        ret = _receive(uow, request, now, due_at)
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


def submit_batch(
    uow_factory: Callable[[], UnitOfWork],
    requests: Sequence[ReturnRequest],
    *,
    now: datetime,
    due_at: datetime,
) -> list[Submitted]:
    """Store many requests in one transaction (repeats answered with their existing returns).

    Bulk statements and batched issuance messages (see `flow.batched`) keep the per-return cost small. If a concurrent
    submission of one of them wins a race, the batch falls back to one transaction per request, so a batch is never
    half-stored and never stores a request twice."""
    with uow_factory() as uow:
        keys = [(request.channel, request.upstream_request_id) for request in requests]
        known = dict(uow.returns.ids_by_upstream(list(dict.fromkeys(keys))))
        results: list[Submitted] = []
        fresh: list[ReturnAuthorization] = []
        for key, request in zip(keys, requests, strict=True):
            if key in known:
                results.append(Submitted(known[key], created=False))
                continue
            ret = ReturnAuthorization.receive(request, return_id=new_return_id(), at=now, due_at=due_at)
            known[key] = ret.id
            fresh.append(ret)
            results.append(Submitted(ret.id, created=True))
        try:
            uow.returns.add_many(fresh)  # their issuance follows at commit, in batch messages (rma.services.flow)
            uow.commit()
        except DuplicateRequestError:
            pass
        else:
            return results
    return [submit_return(uow_factory(), request, now=now, due_at=due_at) for request in requests]
