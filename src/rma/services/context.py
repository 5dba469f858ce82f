"""What every stage needs: a unit of work factory, the clock, the policy, the providers and the timings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rma.domain.lifecycle import Status
from rma.domain.policy import PolicyBook
from rma.services.ports import Carrier, Clock, Notifier, PaymentGateway, UnitOfWork


@dataclass(frozen=True, slots=True)
class Timing:
    """Deadlines. Machine steps are measured in wall-clock seconds (message latency is real); waits on the outside
    world (customers, carriers, inspectors) in application time, which the simulated clock speeds up."""

    redrive_after_seconds: float = 60.0
    max_redrives: int = 5
    review_sla: timedelta = timedelta(days=2)
    label_valid: timedelta = timedelta(days=14)
    first_poll_after: timedelta = timedelta(hours=2)
    poll_every: timedelta = timedelta(hours=6)
    # A travelling parcel with a delivery estimate is next polled at the estimate, but never later than this: an
    # exception on the road (lost, damaged) is seen within it.
    poll_max_gap: timedelta = timedelta(hours=24)
    max_transit: timedelta = timedelta(days=30)
    # Sandbox auto-inspector: how long after delivery it gets to a parcel (most within the deadline, some late).
    auto_inspect_after: tuple[timedelta, timedelta] = (timedelta(hours=2), timedelta(days=3))


@dataclass(frozen=True, slots=True)
class StageContext:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    book: PolicyBook
    rma_prefix: str
    carrier: Carrier
    gateway: PaymentGateway
    notifier: Notifier
    timing: Timing = field(default_factory=Timing)
    auto_inspect: bool = False
    auto_review: bool = False
    # Messages waiting in the broker for a task's queue. The reconciler re-drives a stage only when its queue is
    # empty: while a backlog drains, overdue returns are most likely still queued, and re-sending them would bury the
    # system under its own duplicates. After a broker loss the queues are empty and re-driving starts at once.
    backlog: Callable[[str], int] = field(default=lambda _task: 0)

    def machine_deadline(self) -> datetime:
        return self.clock.after_real_seconds(self.timing.redrive_after_seconds)

    def deadline_for(self, status: Status, *, now: datetime) -> datetime | None:
        """When a return that has just entered `status` is overdue (None: no deadline, e.g. closed)."""
        if status in MACHINE_STEPS:
            return self.machine_deadline()
        waits = {
            Status.PENDING_REVIEW: self.timing.review_sla,
            Status.LABEL_ISSUED: self.timing.label_valid,
            Status.IN_TRANSIT: self.timing.max_transit,
        }
        wait = waits.get(status)
        return None if wait is None else now + wait


# Statuses whose next step is ours alone: if the message carrying it is lost, the reconciler sends it again.
MACHINE_STEPS = frozenset(
    {
        Status.REQUESTED,
        Status.AUTHORIZED,
        Status.INSPECTED,
        Status.REFUND_PENDING,
        Status.REFUNDED,
        Status.REJECTED,
        Status.EXPIRED,
        Status.CANCELLED,
    }
)
