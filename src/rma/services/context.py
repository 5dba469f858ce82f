"""What every stage needs: a unit of work factory, the clock, the policy, the providers and the timings.

Built only by the composition root (`rma.bootstrap`), which picks real or sandbox providers from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from rma.domain.lifecycle import Status
from rma.domain.policy import PolicyBook
from rma.domain.requests import Address
from rma.ports.clock import Clock
from rma.ports.documents import DocumentRenderer, DocumentStore
from rma.ports.people import AutoInspector, AutoReviewer
from rma.ports.providers import Carrier, Notifier, PaymentGateway
from rma.ports.unit_of_work import UnitOfWork
from rma.services.flow import Timing, deadline


@dataclass(frozen=True, slots=True)
class StageContext:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    book: PolicyBook
    rma_prefix: str
    carrier: Carrier
    gateway: PaymentGateway
    notifier: Notifier
    documents: DocumentStore
    renderer: DocumentRenderer
    warehouse: Address  # the returns centre every label is addressed to
    parcel_weight_oz: float = 32
    timing: Timing = field(default_factory=Timing)
    # Sandbox stand-ins for the warehouse and the review team (the embedded demo, `rma stack` with RMA_AUTO_*).
    auto_inspector: AutoInspector | None = None
    auto_reviewer: AutoReviewer | None = None
    # Messages waiting in the broker for a task's queue. The reconciler re-drives a stage only when its queue is
    # empty: while a backlog drains, overdue returns are most likely still queued, and re-sending them would bury the
    # system under its own duplicates. After a broker loss the queues are empty and re-driving starts at once.
    backlog: Callable[[str], int] = field(default=lambda _task: 0)

    def machine_deadline(self) -> datetime:
        return self.clock.after_real_seconds(self.timing.redrive_after_seconds)

    def deadline_for(self, status: Status, *, now: datetime) -> datetime | None:
        """When a return that has just entered `status` is overdue (see `rma.services.flow`)."""
        return deadline(status, now=now, timing=self.timing, clock=self.clock)
