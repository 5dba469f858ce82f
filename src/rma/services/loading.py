"""Loading returns for a stage: one by id, or a batch in a fixed number of queries and a fixed order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from rma.domain.returns import ReturnAuthorization
from rma.ports.unit_of_work import UnitOfWork
from rma.services.errors import ReturnNotFoundError


def load(uow: UnitOfWork, return_id: uuid.UUID) -> ReturnAuthorization:
    ret = uow.returns.get(return_id)
    if ret is None:
        raise ReturnNotFoundError(f"no return {return_id}")
    return ret


def load_many(uow: UnitOfWork, return_ids: Sequence[uuid.UUID]) -> list[ReturnAuthorization]:
    """The returns of a batch, ordered by order (then id): every batch transaction that takes order locks
    (`UnitOfWork.lock_order`) takes them in the same order, so two batches cannot deadlock on them."""
    rets = uow.returns.get_many(return_ids)
    missing = [str(rid) for rid in return_ids if rid not in rets]
    if missing:
        # The batch is retried one return at a time, so only the missing one is dead-lettered.
        raise ReturnNotFoundError(f"no return {', '.join(missing)}")
    return sorted(rets.values(), key=lambda ret: (ret.channel, ret.request.order_id, str(ret.id)))
