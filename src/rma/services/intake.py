"""Intake: store a return request exactly once per (channel, upstream request id); its issuance follows at commit."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import uuid_utils.compat

from rma.domain.errors import DuplicateRequestError, IdempotencyKeyReusedError, KeyReuse
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


def _reuse(first: ReturnRequest | None, request: ReturnRequest, index: int = 0) -> KeyReuse | None:
    """A repeat must be the request first sent under its key (in canonical form); a different one is refused."""
    differing = first.differences(request) if first is not None else ()
    return KeyReuse(index, request.channel, request.upstream_request_id, differing) if differing else None


def _refuse_reuse(existing: ReturnAuthorization, request: ReturnRequest) -> None:
    if (reuse := _reuse(existing.request, request)) is not None:
        raise IdempotencyKeyReusedError([reuse])


def _receive(uow: UnitOfWork, request: ReturnRequest, now: datetime, due_at: datetime) -> ReturnAuthorization:
    ret = ReturnAuthorization.receive(request, return_id=new_return_id(), at=now, due_at=due_at)
    uow.returns.add(ret)
    return ret


def submit_return(uow: UnitOfWork, request: ReturnRequest, *, now: datetime, due_at: datetime) -> Submitted:
    """Store the request and queue its issuance in one transaction; a repeat answers with the first return.

    `due_at`: when the reconciler re-drives the issuance if its message was lost. A different request under a key
    already used raises `IdempotencyKeyReusedError`."""
    with uow:
        existing = uow.returns.get_by_upstream(request.channel, request.upstream_request_id)
        if existing is not None:
            _refuse_reuse(existing, request)
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
        _refuse_reuse(winner, request)
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
    half-stored and never stores a request twice.

    A key used before (or earlier in the batch) for a different request raises `IdempotencyKeyReusedError` naming
    every such request by its position, and nothing is stored (in the race fallback the other requests are stored,
    each alone, as they would be on a retry)."""
    with uow_factory() as uow:
        keys = [(request.channel, request.upstream_request_id) for request in requests]
        known = dict(uow.returns.ids_by_upstream(list(dict.fromkeys(keys))))
        stored = uow.returns.get_many(list(known.values())) if known else {}
        first = {key: stored[rid].request for key, rid in known.items() if rid in stored}
        reuses: list[KeyReuse] = []
        results: list[Submitted] = []
        fresh: list[ReturnAuthorization] = []
        for index, (key, request) in enumerate(zip(keys, requests, strict=True)):
            if key in known:
                if (reuse := _reuse(first.get(key), request, index)) is not None:
                    reuses.append(reuse)
                results.append(Submitted(known[key], created=False))
                continue
            ret = ReturnAuthorization.receive(request, return_id=new_return_id(), at=now, due_at=due_at)
            known[key] = ret.id
            first[key] = request
            fresh.append(ret)
            results.append(Submitted(ret.id, created=True))
        if reuses:
            raise IdempotencyKeyReusedError(reuses)
        try:
            uow.returns.add_many(fresh)  # their issuance follows at commit, in batch messages (rma.services.flow)
            uow.commit()
        except DuplicateRequestError:
            pass
        else:
            return results
    return _one_at_a_time(uow_factory, requests, now=now, due_at=due_at)


def _one_at_a_time(
    uow_factory: Callable[[], UnitOfWork], requests: Sequence[ReturnRequest], *, now: datetime, due_at: datetime
) -> list[Submitted]:
    results: list[Submitted] = []
    reuses: list[KeyReuse] = []
    for index, request in enumerate(requests):
        try:
            results.append(submit_return(uow_factory(), request, now=now, due_at=due_at))
        except IdempotencyKeyReusedError as exc:
            reuses.extend(dataclasses.replace(reuse, index=index) for reuse in exc.reuses)
    if reuses:
        raise IdempotencyKeyReusedError(reuses)
    return results
