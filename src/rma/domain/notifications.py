"""What the customer is told, and when: one message per (return, status change the customer can see)."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict

from rma.domain.lifecycle import Status

# Internal steps (requested, refund_pending, needs_attention, closed) are not announced; everything else is.
CUSTOMER_EVENTS: Final[frozenset[Status]] = frozenset(
    {
        Status.PENDING_REVIEW,
        Status.AUTHORIZED,
        Status.REJECTED,
        Status.LABEL_ISSUED,
        Status.IN_TRANSIT,
        Status.EXPIRED,
        Status.CANCELLED,
        Status.DELIVERED,
        Status.EXCEPTION,
        Status.INSPECTED,
        Status.REFUNDED,
        Status.REFUND_FAILED,
    }
)

_SUBJECTS: Final[dict[Status, str]] = {
    Status.PENDING_REVIEW: "We are reviewing your return request",
    Status.AUTHORIZED: "Your return is authorized",
    Status.REJECTED: "We could not accept your return request",
    Status.LABEL_ISSUED: "Your prepaid return label is ready",
    Status.IN_TRANSIT: "Your return is on its way",
    Status.EXPIRED: "Your return label has expired",
    Status.CANCELLED: "Your return was cancelled",
    Status.DELIVERED: "We received your return",
    Status.EXCEPTION: "There is a problem with your return shipment",
    Status.INSPECTED: "We inspected your return",
    Status.REFUNDED: "Your refund has been issued",
    Status.REFUND_FAILED: "Your refund is delayed",
}


class CustomerMessage(BaseModel):
    """A rendered message. `to_customer_id` is resolved to an address only inside the notifier adapter."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    return_id: str
    rma_number: str | None
    event: Status
    subject: str
    body: str


def render(
    *, return_id: str, rma_number: str | None, event: Status, reasons: list[str], detail: str | None = None
) -> CustomerMessage:
    reference = f"Return {rma_number}" if rma_number else "Your return request"
    lines = [f"{reference}: {_SUBJECTS[event].lower()}."]
    if event in {Status.AUTHORIZED, Status.REJECTED, Status.PENDING_REVIEW}:
        lines.extend(reasons)
    if detail:
        lines.append(detail)
    return CustomerMessage(
        idempotency_key=f"{return_id}:{event.value}",
        return_id=return_id,
        rma_number=rma_number,
        event=event,
        subject=f"{_SUBJECTS[event]} ({rma_number})" if rma_number else _SUBJECTS[event],
        body="\n".join(lines),
    )
