"""The interfaces services depend on. Adapters implement them (SQLAlchemy, sandbox and real providers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from rma.domain.inspection import Grade
from rma.domain.lifecycle import Status
from rma.domain.notifications import CustomerMessage
from rma.domain.policy.evaluate import OrderHistory
from rma.domain.requests import Address, Contact
from rma.domain.returns import ReturnAuthorization

# --- time -------------------------------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The application's current time (timezone-aware UTC). Simulated clocks run faster than real time."""

    def after_real_seconds(self, seconds: float) -> datetime:
        """The application time `seconds` of wall-clock time from now (message deadlines are wall-clock)."""


# --- providers ----------------------------------------------------------------------------------------------------


class ProviderError(Exception):
    """A provider call failed. `transient` errors (timeouts, connection errors, 429, 5xx) are retried."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class LabelRequest:
    idempotency_key: str
    rma_number: str
    ship_from: Address
    parcels: int = 1


@dataclass(frozen=True, slots=True)
class Label:
    tracking_number: str
    carrier: str
    label_format: str
    document: bytes
    cost: int


class TrackingState(StrEnum):
    PRE_TRANSIT = "pre_transit"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    LOST = "lost"
    RETURNED_TO_SENDER = "returned_to_sender"
    DAMAGED = "damaged"


@dataclass(frozen=True, slots=True)
class TrackingUpdate:
    tracking_number: str
    state: TrackingState
    at: datetime | None
    estimated_delivery: datetime | None = None
    """When the carrier expects to deliver (once the parcel travels); polls in between can wait for it."""


class Carrier(Protocol):
    name: str

    def create_labels(self, requests: Sequence[LabelRequest]) -> dict[str, Label]:
        """Buy a label per request in one call (a carrier's batch API), answered by idempotency key. The same key
        always answers with the same label, never a second one."""

    def find_labels(self, idempotency_keys: Sequence[str]) -> dict[str, Label]:
        """The labels already sold for these keys (the others are absent), in one call."""

    def track(self, tracking_numbers: Sequence[str]) -> dict[str, TrackingUpdate]:
        """The latest state of each parcel, in one call for the whole batch."""


@dataclass(frozen=True, slots=True)
class RefundOrder:
    idempotency_key: str
    payment_reference: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class GatewayRefund:
    refund_id: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class RefundDeclined:
    """The gateway refused this one refund for good (a closed card account, a disputed charge): a person decides."""

    reason: str


class PaymentGateway(Protocol):
    def refund_many(self, orders: Sequence[RefundOrder]) -> dict[str, GatewayRefund | RefundDeclined]:
        """Refund each order once per idempotency key, in one call, answered by key: a repeat answers with the first
        refund, never a second one. A failure of the whole call raises ProviderError."""

    def find_refunds(self, idempotency_keys: Sequence[str]) -> dict[str, GatewayRefund]:
        """The refunds already made for these keys (the others are absent), in one call."""


class Notifier(Protocol):
    def send_many(self, messages: Sequence[tuple[CustomerMessage, Contact]]) -> list[str]:
        """Deliver each message once per `idempotency_key` (a repeat is accepted and not delivered again), in the order
        given; answers the provider's message ids in the same order. Raises if the provider refused the batch."""


# --- persistence ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One task of a follow-up chain: a task name and small JSON arguments (ids, event names)."""

    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)


class ReturnRepository(Protocol):
    def add(self, ret: ReturnAuthorization) -> None: ...

    def add_many(self, rets: Sequence[ReturnAuthorization]) -> None:
        """Insert new returns (status requested) in bulk."""

    def ids_by_upstream(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]: ...

    def save(self, ret: ReturnAuthorization) -> None:
        """Write the changes made to a return loaded through this repository; raise ConcurrentUpdateError if another
        writer committed a change to it since it was loaded. New customer-visible transitions queue a message."""

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


@dataclass(frozen=True, slots=True)
class LabelRecord:
    return_id: UUID
    idempotency_key: str
    carrier: str
    tracking_number: str | None
    label_format: str | None
    document: bytes | None


class RefundStatus(StrEnum):
    """A refund decision's state at the gateway (stored in `refunds.status`)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RefundRecord:
    id: int
    return_id: UUID
    idempotency_key: str
    amount: int
    currency: str
    lines: dict[str, int]
    status: RefundStatus
    gateway_refund_id: str | None


@dataclass(frozen=True, slots=True)
class Parcel:
    """A return's parcel as the tracking stage sees it."""

    tracking_number: str
    expires_at: datetime  # the label's expiry: a parcel never shipped by then expires
    carrier_status: str  # the last state the carrier reported


@dataclass(frozen=True, slots=True)
class OutgoingNotification:
    """An unsent customer message with what it takes to render and address it (read without loading the return)."""

    id: int
    return_id: UUID
    event: Status
    rma_number: str | None
    reasons: list[str]
    attention_cause: str | None
    contact: Contact


@dataclass(frozen=True, slots=True)
class InspectionRecord:
    return_id: UUID
    due_at: datetime
    inspected_at: datetime | None
    grade: Grade | None
    escalated_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    cause: str
    queue: str | None = None
    task_name: str | None = None
    task_id: str | None = None
    return_id: UUID | None = None
    kwargs: dict[str, Any] | None = None
    content_type: str | None = None
    raw_body: bytes | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    id: int
    created_at: datetime
    letter: DeadLetter
    replayed_at: datetime | None


class Stores(Protocol):
    """Everything besides the return aggregate that a stage reads or writes inside the unit of work."""

    def enqueue(self, *steps: Step) -> None:
        """Queue a chain of follow-up tasks; published only after this unit of work commits."""

    def label(self, return_id: UUID) -> LabelRecord | None: ...

    def reserve_label(self, return_id: UUID, *, idempotency_key: str, carrier: str, at: datetime) -> bool:
        """Commit the label's idempotency key before the carrier is called; True when this call made the reservation
        (so no carrier call with that key can have happened yet)."""

    def complete_label(self, return_id: UUID, label: Label, *, at: datetime) -> None: ...

    def add_shipment(
        self, return_id: UUID, *, tracking_number: str, next_poll_at: datetime, expires_at: datetime
    ) -> None: ...

    def shipments_due(self, *, now: datetime, limit: int) -> Sequence[tuple[UUID, str]]: ...

    def lease_shipments(self, return_ids: Sequence[UUID], *, until: datetime) -> None: ...

    def schedule_polls(self, next_polls: dict[UUID, datetime]) -> None:
        """Each parcel's next poll, in one statement."""

    def shipments(self, return_ids: Sequence[UUID]) -> dict[UUID, Parcel]:
        """The parcels of those returns that have one, in one query."""

    def update_shipment(
        self, return_id: UUID, *, state: str, next_poll_at: datetime | None, event_at: datetime | None
    ) -> None: ...

    def open_inspection(self, return_id: UUID, *, due_at: datetime, auto_inspect_at: datetime | None) -> None: ...

    def inspection(self, return_id: UUID) -> InspectionRecord | None: ...

    def record_inspection(
        self, return_id: UUID, *, grade: Grade, disposition: str, inspector: str, at: datetime
    ) -> None: ...

    def inspections_for_auto(self, *, now: datetime, limit: int) -> Sequence[UUID]: ...

    def lease_auto_inspections(self, return_ids: Sequence[UUID], *, until: datetime) -> None: ...

    def overdue_inspections(self, *, now: datetime, limit: int) -> Sequence[UUID]: ...

    def escalate_inspections(self, return_ids: Sequence[UUID], *, at: datetime) -> None: ...

    def create_refund(
        self, ret: ReturnAuthorization, *, idempotency_key: str, amount: int, lines: dict[str, int], at: datetime
    ) -> None: ...

    def refunds(self, return_id: UUID) -> Sequence[RefundRecord]: ...

    def settle_refund(self, idempotency_key: str, *, gateway_refund_id: str, at: datetime) -> None: ...

    def fail_refund(self, idempotency_key: str, *, cause: str, at: datetime) -> None: ...

    def pending_notifications(self, return_id: UUID) -> Sequence[int]:
        """Ids of the return's unsent messages."""

    def notifications_to_dispatch(self, *, now: datetime, limit: int) -> Sequence[tuple[int, UUID]]:
        """Unsent messages not leased to a batch, as (id, return id), oldest first; a return with a message still
        leased is left out, so its messages go out in order."""

    def lease_notifications(self, notification_ids: Sequence[int], *, until: datetime) -> None: ...

    def outgoing_notifications(self, notification_ids: Sequence[int]) -> Sequence[OutgoingNotification]:
        """The unsent ones among `notification_ids`, by return and in the order their events happened."""

    def mark_notified(self, sent: Sequence[tuple[int, str]], *, at: datetime) -> None:
        """Record (notification id, provider message id) pairs as sent."""

    def add_dead_letter(self, letter: DeadLetter, *, at: datetime) -> int: ...

    def dead_letters(self, *, limit: int, include_replayed: bool) -> Sequence[DeadLetterRecord]: ...

    def dead_letter(self, letter_id: int) -> DeadLetterRecord | None: ...

    def mark_replayed(self, letter_id: int, *, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    @property
    def returns(self) -> ReturnRepository: ...

    @property
    def stores(self) -> Stores: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def next_rma_serials(self, prefix: str, count: int) -> range:
        """`count` new serials for `prefix`, unique across every concurrent transaction (the counter stays locked by
        this transaction until it ends)."""

    def lock_order(self, channel: str, order_id: str) -> None:
        """Serialise, until commit, the transactions that decide refunds for one order."""
