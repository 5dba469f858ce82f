"""The interfaces services depend on. Adapters implement them; tests may too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from rma.domain.lifecycle import Status
from rma.domain.policy.evaluate import OrderHistory
from rma.domain.returns import ReturnAuthorization


class ReturnRepository(Protocol):
    def add(self, ret: ReturnAuthorization) -> None: ...

    def save(self, ret: ReturnAuthorization) -> None:
        """Write the changes made to a return loaded through this repository; raise ConcurrentUpdateError if another
        writer committed a change to it since it was loaded."""

    def get(self, return_id: UUID) -> ReturnAuthorization | None: ...

    def get_by_rma_number(self, rma_number: str) -> ReturnAuthorization | None: ...

    def get_by_upstream(self, channel: str, upstream_request_id: str) -> ReturnAuthorization | None: ...

    def list_by_order(self, channel: str, order_id: str) -> Sequence[ReturnAuthorization]: ...

    def order_history(self, channel: str, order_id: str, *, excluding: UUID | None = None) -> OrderHistory: ...

    def ids_due(self, status: Status, *, now: datetime, limit: int) -> Sequence[UUID]: ...

    def count_by_status(self) -> dict[Status, int]: ...


class UnitOfWork(Protocol):
    returns: ReturnRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def next_rma_serial(self, prefix: str) -> int:
        """The next serial for `prefix`, unique across every concurrent transaction."""
