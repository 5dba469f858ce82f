"""The read side the API and the CLI use: a return by the reference a person holds, an order's returns, the queue
of reviews. Reads only: nothing here changes state."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final

from rma.domain.errors import DomainError, InvalidRmaNumberError
from rma.domain.lifecycle import Status
from rma.domain.returns import ReturnAuthorization
from rma.domain.rma_numbers import parse_rma_number
from rma.ports.queries import ReturnHeader, ReturnQueries
from rma.ports.unit_of_work import UnitOfWork
from rma.services.errors import ReturnNotFoundError

MAX_ORDER_RETURNS: Final = 500


class InvalidReferenceError(DomainError):
    """Neither a return id nor a well-formed RMA number; `reason` says what is wrong with it."""

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(f"{ref!r} is {reason}")
        self.reason = reason


def find_return(uow: UnitOfWork, ref: str) -> ReturnAuthorization:
    """`ref` is the internal UUID or an RMA number as a person typed it."""
    try:
        return_id = uuid.UUID(ref)
    except ValueError:
        try:
            rma_number = parse_rma_number(ref)
        except InvalidRmaNumberError as exc:
            raise InvalidReferenceError(ref, f"neither a return id nor a valid RMA number: {exc}") from None
        ret = uow.returns.get_by_rma_number(rma_number)
    else:
        ret = uow.returns.get(return_id)
    if ret is None:
        raise ReturnNotFoundError(f"no return {ref!r}")
    return ret


def returns_of_order(queries: ReturnQueries, order_id: str, *, channel: str | None) -> Sequence[ReturnHeader]:
    """Across channels unless one is given; columns only, so no request (and no personal data) is read."""
    return queries.by_order(order_id, channel=channel, limit=MAX_ORDER_RETURNS)


def pending_reviews(uow: UnitOfWork, *, limit: int) -> Sequence[ReturnAuthorization]:
    """Returns waiting for a person's decision, longest waiting first."""
    return uow.returns.list_by_status(Status.PENDING_REVIEW, limit=limit)
