"""The read side: what the API lists without loading aggregates (and so without any personal data)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from rma.domain.lifecycle import Status


@dataclass(frozen=True, slots=True)
class ReturnHeader:
    return_id: UUID
    rma_number: str | None
    status: Status
    channel: str
    order_id: str
    upstream_request_id: str
    created_at: datetime
    updated_at: datetime


class ReturnQueries(Protocol):
    def by_order(self, order_id: str, *, channel: str | None, limit: int) -> Sequence[ReturnHeader]:
        """The returns of one order, oldest first; of every channel unless one is given."""

    def ping(self) -> None:
        """Raise if the database does not answer (readiness)."""
