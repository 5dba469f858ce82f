"""One transaction: the return repository and every store, committed together."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from rma.ports.returns import ReturnRepository
from rma.ports.stores import (
    CarrierEventStore,
    DeadLetterStore,
    InspectionStore,
    LabelStore,
    NotificationStore,
    Outbox,
    RefundStore,
    ShipmentStore,
)


class UnitOfWork(Protocol):
    @property
    def returns(self) -> ReturnRepository: ...

    @property
    def labels(self) -> LabelStore: ...

    @property
    def shipments(self) -> ShipmentStore: ...

    @property
    def carrier_events(self) -> CarrierEventStore: ...

    @property
    def inspections(self) -> InspectionStore: ...

    @property
    def refunds(self) -> RefundStore: ...

    @property
    def notifications(self) -> NotificationStore: ...

    @property
    def dead_letters(self) -> DeadLetterStore: ...

    @property
    def outbox(self) -> Outbox: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Ask the flow what follows the saved returns, write it (messages, outbox), commit; then publish."""

    def rollback(self) -> None: ...

    def next_rma_serials(self, prefix: str, count: int) -> range:
        """`count` new serials for `prefix`, unique across every concurrent transaction (the counter stays locked by
        this transaction until it ends)."""

    def lock_order(self, channel: str, order_id: str) -> None:
        """Serialise, until commit, the transactions that decide refunds for one order."""
