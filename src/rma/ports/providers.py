"""Outside parties: the carrier, the payment gateway, the customer notifier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from rma.domain.notifications import CustomerMessage
from rma.domain.requests import Address, Contact


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
