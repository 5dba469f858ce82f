"""One small store per concern besides the return aggregate, each used inside a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from rma.domain.inspection import Grade
from rma.domain.lifecycle import Status
from rma.domain.requests import Contact
from rma.domain.returns import ReturnAuthorization
from rma.ports.messaging import Announcement, OutboxMessage, Step
from rma.ports.providers import Label, TrackingEvent, TrackingUpdate

# --- labels and shipments -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelRecord:
    return_id: UUID
    idempotency_key: str
    carrier: str
    tracking_number: str | None
    label_format: str | None
    document_key: str | None
    provider_ref: str | None = None
    service: str | None = None
    cost: int | None = None
    currency: str | None = None
    qr_key: str | None = None
    void_status: str | None = None
    legacy_document: bytes | None = None  # a label made before documents moved to the document store


@dataclass(frozen=True, slots=True)
class StoredLabel:
    """A bought label as recorded: the carrier's answer and where its documents were put."""

    label: Label
    document_key: str
    qr_key: str | None = None


class LabelStore(Protocol):
    def get(self, return_id: UUID) -> LabelRecord | None: ...

    def get_many(self, return_ids: Sequence[UUID]) -> dict[UUID, LabelRecord]:
        """Those of the returns that have a label row, in one query."""

    def reserve(self, return_id: UUID, *, idempotency_key: str, carrier: str, at: datetime) -> bool:
        """Commit the label's idempotency key before the carrier is called; True when this call made the reservation
        (so no carrier call with that key can have happened yet)."""

    def reserve_many(self, keys: dict[UUID, str], *, carrier: str, at: datetime) -> set[UUID]:
        """`reserve` for a batch (return id -> idempotency key), in one statement; the returns this call reserved."""

    def set_refs(self, refs: dict[UUID, str]) -> None:
        """Record the carrier's reference of each reserved label (before anything is bought on it), one statement."""

    def complete_many(self, labels: dict[UUID, StoredLabel], *, at: datetime) -> None:
        """Record the labels bought for reserved returns, in one statement."""

    def request_void(self, return_ids: Sequence[UUID], *, at: datetime) -> None:
        """Mark these returns' bought, unvoided labels to be voided at the carrier."""

    def voids_due(self, *, limit: int) -> Sequence[UUID]:
        """Returns whose label waits to be voided, oldest request first."""

    def record_voids(self, outcomes: dict[UUID, str], *, at: datetime) -> None:
        """The carrier's answer to each void request."""


@dataclass(frozen=True, slots=True)
class Parcel:
    """A return's parcel as the tracking stage sees it."""

    tracking_number: str
    expires_at: datetime  # the label's expiry: a parcel never shipped by then expires
    carrier_status: str  # the last state the carrier reported
    carrier: str = "sandbox"
    tracker_ref: str | None = None
    last_event_at: datetime | None = None  # the carrier's time of its latest event seen
    shipped_at: datetime | None = None  # the first scan
    webhook_seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewParcel:
    tracking_number: str
    carrier: str
    tracker_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ParcelNews:
    """What a poll or webhook learnt of a parcel: its state, when the carrier saw it, and when to ask again (None:
    never); `events` are added to the parcel's history (those already there are ignored)."""

    return_id: UUID
    state: str
    next_poll_at: datetime | None
    event_at: datetime | None
    events: tuple[TrackingEvent, ...] = ()
    shipped_at: datetime | None = None
    webhook_at: datetime | None = None


class ShipmentStore(Protocol):
    def add_many(self, parcels: dict[UUID, NewParcel], *, next_poll_at: datetime, expires_at: datetime) -> None:
        """Start tracking the parcels of a batch, in one statement; a parcel already tracked is left as it is."""

    def due(self, *, now: datetime, limit: int) -> Sequence[tuple[UUID, str]]:
        """(return id, tracking number) of the parcels whose next poll is due, the longest waiting first."""

    def lease(self, return_ids: Sequence[UUID], *, until: datetime) -> None: ...

    def schedule_polls(self, next_polls: dict[UUID, datetime]) -> None:
        """Each parcel's next poll, in one statement."""

    def parcels(self, return_ids: Sequence[UUID]) -> dict[UUID, Parcel]:
        """The parcels of those returns that have one, in one query."""

    def by_tracking_number(self, tracking_numbers: Sequence[str]) -> dict[str, UUID]:
        """The returns of those tracking numbers we track, in one query."""

    def record_news(self, news: Sequence[ParcelNews]) -> None:
        """Each parcel's new state and next poll, and its new history events, in two statements."""

    def history(self, return_id: UUID) -> Sequence[TrackingEvent]:
        """The parcel's events, oldest first."""


@dataclass(frozen=True, slots=True)
class CarrierEvent:
    carrier: str
    event_id: str
    update: TrackingUpdate


class CarrierEventStore(Protocol):
    def add(self, event: CarrierEvent, *, at: datetime) -> bool:
        """Keep a webhook event by its id; False when it was received before (a duplicate delivery)."""

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[CarrierEvent]:
        """The unapplied events among (carrier, event id) keys, in one query."""

    def mark_applied(self, keys: Sequence[tuple[str, str]], *, at: datetime) -> None: ...


# --- inspections ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InspectionRecord:
    return_id: UUID
    due_at: datetime
    inspected_at: datetime | None
    grade: Grade | None
    escalated_at: datetime | None


class InspectionStore(Protocol):
    def open(self, return_id: UUID, *, due_at: datetime, auto_inspect_at: datetime | None) -> None: ...

    def get_many(self, return_ids: Sequence[UUID]) -> dict[UUID, InspectionRecord]:
        """Those of the returns that have one, in one query."""

    def record(self, return_id: UUID, *, grade: Grade, disposition: str, inspector: str, at: datetime) -> None: ...

    def due_for_auto(self, *, now: datetime, limit: int) -> Sequence[UUID]: ...

    def lease_auto(self, return_ids: Sequence[UUID], *, until: datetime) -> None: ...

    def overdue(self, *, now: datetime, limit: int) -> Sequence[UUID]: ...

    def escalate(self, return_ids: Sequence[UUID], *, at: datetime) -> None: ...


# --- refunds ------------------------------------------------------------------------------------------------------


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


class RefundStore(Protocol):
    def create(
        self, ret: ReturnAuthorization, *, idempotency_key: str, amount: int, lines: dict[str, int], at: datetime
    ) -> None: ...

    def of_return(self, return_id: UUID) -> Sequence[RefundRecord]:
        """The return's refund decisions, oldest first."""

    def of_returns(self, return_ids: Sequence[UUID]) -> dict[UUID, list[RefundRecord]]:
        """The same for a batch, in one query (a return without any is absent)."""

    def settle(self, idempotency_key: str, *, gateway_refund_id: str, at: datetime) -> None: ...

    def fail(self, idempotency_key: str, *, cause: str, at: datetime) -> None: ...


# --- customer messages --------------------------------------------------------------------------------------------


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


class NotificationStore(Protocol):
    def add(self, announcements: Sequence[Announcement], *, at: datetime) -> None:
        """Write a message row per announcement; one per (return, event): a repeat is ignored."""

    def pending(self, return_id: UUID) -> Sequence[int]:
        """Ids of the return's unsent messages."""

    def to_dispatch(self, *, now: datetime, limit: int) -> Sequence[tuple[int, UUID]]:
        """Unsent messages not leased to a batch, as (id, return id), oldest first; a return with a message still
        leased is left out, so its messages go out in order."""

    def lease(self, notification_ids: Sequence[int], *, until: datetime) -> None: ...

    def outgoing(self, notification_ids: Sequence[int]) -> Sequence[OutgoingNotification]:
        """The unsent ones among `notification_ids`, by return and in the order their events happened."""

    def mark_sent(self, sent: Sequence[tuple[int, str]], *, at: datetime) -> None:
        """Record (notification id, provider message id) pairs as sent."""


# --- dead letters -------------------------------------------------------------------------------------------------


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


class DeadLetterStore(Protocol):
    def add(self, letter: DeadLetter, *, at: datetime) -> int: ...

    def recent(self, *, limit: int, include_replayed: bool) -> Sequence[DeadLetterRecord]:
        """Newest first."""

    def get(self, letter_id: int) -> DeadLetterRecord | None: ...

    def mark_replayed(self, letter_id: int, *, at: datetime) -> None: ...


# --- outbox -------------------------------------------------------------------------------------------------------


class Outbox(Protocol):
    def enqueue(self, *steps: Step) -> None:
        """Queue a chain of follow-up tasks explicitly (a beat fan-out); written with the flow's at commit and
        published only after the unit of work commits."""

    def unpublished(self, *, older_than: datetime, limit: int) -> Sequence[tuple[int, OutboxMessage]]:
        """Rows left behind by their own unit of work (a crash between commit and publish), oldest first; locked for
        this transaction, so two relays never send the same row."""

    def delete(self, row_ids: Sequence[int]) -> None: ...
