"""Outside parties: the carrier, the payment gateway, the customer notifier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from rma.domain.notifications import CustomerMessage
from rma.domain.requests import Address, Contact


class ProviderError(Exception):
    """A provider call failed. `transient` errors (timeouts, connection errors, 429, 5xx) are retried, not before
    `retry_after` seconds where the provider said so (a 429's Retry-After)."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class LabelRequest:
    """One return's label. `provider_ref` is the carrier's own reference for it (an EasyPost shipment id), stored by
    an earlier attempt before anything was bought: given it, the carrier looks the shipment up instead of making a
    second one."""

    idempotency_key: str
    rma_number: str
    ship_from: Address
    weight_oz: float
    provider_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Label:
    tracking_number: str
    carrier: str  # who carries the parcel ("USPS", "UPS", "sandbox")
    label_format: str  # "PDF", "ZPL" or "PNG"
    document: bytes
    cost: int  # minor units of `currency`
    service: str = ""
    currency: str = "USD"
    provider_ref: str | None = None
    qr_code: bytes | None = None  # a QR code (PNG) for label-less drop-off, where the carrier gives one
    tracker_ref: str | None = None  # the carrier's tracker for this parcel, where it keeps one


@dataclass(frozen=True, slots=True)
class LabelRefused:
    """The carrier refused this one label for good (an address it cannot ship from, no rate for the parcel): a person
    must look at the return. `cause` is readable and quotes no personal data."""

    cause: str


class VoidOutcome(StrEnum):
    """What the carrier said to a request to void (refund) an unused label."""

    REFUNDED = "refunded"  # the label's cost is recovered
    SUBMITTED = "submitted"  # the carrier accepted the request; the money follows later
    REJECTED = "rejected"  # too late (the parcel was scanned) or not refundable: the cost is not recovered
    NOT_BOUGHT = "not_bought"  # nothing was bought on this reference: nothing to recover


@dataclass(frozen=True, slots=True)
class LabelToVoid:
    idempotency_key: str
    provider_ref: str
    tracking_number: str | None


class TrackingState(StrEnum):
    UNKNOWN = "unknown"  # the carrier knows nothing of the parcel yet
    PRE_TRANSIT = "pre_transit"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    LOST = "lost"
    RETURNED_TO_SENDER = "returned_to_sender"
    DAMAGED = "damaged"
    FAILURE = "failure"  # the carrier could not deliver it
    CANCELLED = "cancelled"  # the carrier cancelled the shipment
    ERROR = "error"  # the carrier cannot track it


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One scan or status change of a parcel, as the carrier tells it. `place` is a depot's city/region/country,
    never the customer's address."""

    at: datetime
    state: TrackingState
    message: str
    place: str | None = None


@dataclass(frozen=True, slots=True)
class TrackingUpdate:
    tracking_number: str
    state: TrackingState
    at: datetime | None
    estimated_delivery: datetime | None = None
    """When the carrier expects to deliver (once the parcel travels); polls in between can wait for it."""
    events: tuple[TrackingEvent, ...] = ()
    """The parcel's history, oldest first, as far as the carrier gives it."""
    detail: str | None = None
    """The carrier's own words for the latest state (shown to a person when the state needs one)."""


@dataclass(frozen=True, slots=True)
class TrackedParcel:
    tracking_number: str
    carrier: str
    tracker_ref: str | None = None


class Carrier(Protocol):
    """A label is bought in two steps, so that a worker dying between the purchase and our commit never buys twice:
    `open_shipments` makes the carrier's shipment and its reference is committed; `buy_labels` then buys on that
    reference, and a reference already bought answers with its label."""

    name: str

    def open_shipments(self, requests: Sequence[LabelRequest]) -> dict[str, str | LabelRefused]:
        """The carrier's reference per idempotency key (or why it refused), for requests without one yet; keys
        missing from the answer were not opened this time (retried)."""

    def buy_labels(self, requests: Sequence[LabelRequest]) -> dict[str, Label | LabelRefused]:
        """Buy the label of each request (all have a `provider_ref`), answered by idempotency key; a reference bought
        before answers with that label, never a second one. A transient failure of the call raises ProviderError;
        keys missing from the answer were not bought this time (retried)."""

    def void_labels(self, labels: Sequence[LabelToVoid]) -> dict[str, VoidOutcome]:
        """Ask the carrier to void (refund) unused labels, answered by idempotency key; keys missing from the answer
        were not answered this time (retried)."""

    def track(self, parcels: Sequence[TrackedParcel]) -> dict[str, TrackingUpdate]:
        """The latest state of each parcel (by tracking number); parcels the carrier did not answer for are absent."""


@dataclass(frozen=True, slots=True)
class BoughtLabel:
    """A label as the carrier's own records have it: the audit checks ours against them (the sandbox's tables, or the
    fake EasyPost server's records in bench and chaos runs)."""

    reference: str  # the RMA number it was bought for
    tracking_number: str
    refunded: bool  # voided, its cost given back


class CarrierWebhook(Protocol):
    """A carrier's tracking webhooks: who sent them (a signature) and what they say."""

    carrier: str

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when the body is signed with the account's webhook secret."""

    def parse(self, body: bytes) -> tuple[str, TrackingUpdate] | None:
        """(the carrier's event id, the parcel's news), or None for an event of a kind we do not use; raises
        ValueError with the cause for a body that is not a well-formed event."""


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
