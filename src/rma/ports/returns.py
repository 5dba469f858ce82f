"""The return aggregate's repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from rma.domain.lifecycle import Status
from rma.domain.policy.evaluate import OrderHistory
from rma.domain.returns import ReturnAuthorization


class ReturnRepository(Protocol):
    def add(self, ret: ReturnAuthorization) -> None: ...

    def add_many(self, rets: Sequence[ReturnAuthorization]) -> None:
        """Insert new returns (status requested) in bulk."""

    def ids_by_upstream(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]: ...

    def save(self, ret: ReturnAuthorization) -> None:
        """Write the changes made to a return loaded through this repository; raise ConcurrentUpdateError if another
        writer committed a change to it since it was loaded. What follows the change is the flow's, at commit."""

    def get(self, return_id: UUID) -> ReturnAuthorization | None: ...

    def get_many(self, return_ids: Sequence[UUID]) -> dict[UUID, ReturnAuthorization]:
        """Those of the returns that exist, loaded in a fixed number of queries (not one per return)."""

    def get_by_rma_number(self, rma_number: str) -> ReturnAuthorization | None: ...

    def get_by_upstream(self, channel: str, upstream_request_id: str) -> ReturnAuthorization | None: ...

    def list_by_order(self, channel: str, order_id: str) -> Sequence[ReturnAuthorization]: ...

    def list_by_status(self, status: Status, *, limit: int) -> Sequence[ReturnAuthorization]: ...

    def order_history(self, channel: str, order_id: str, *, excluding: UUID | None = None) -> OrderHistory: ...

    def order_histories(self, rets: Sequence[ReturnAuthorization]) -> dict[UUID, OrderHistory]:
        """`order_history(..., excluding=ret.id)` of each return of a batch whose order has no other return in the
        batch, in two queries; the others are absent (ask `order_history` for them, in turn)."""

    def ids_due(self, status: Status, *, now: datetime, limit: int) -> Sequence[UUID]: ...

    def postpone(self, return_ids: Sequence[UUID], *, until: datetime) -> None:
        """Push the deadline of re-driven returns and count the re-drive."""

    def redrive_counts(self, return_ids: Sequence[UUID]) -> dict[UUID, int]: ...

    def count_by_status(self) -> dict[Status, int]: ...
