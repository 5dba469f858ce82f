"""The return lifecycle: statuses and the one transition table that says which status may follow which.

Nothing else in the code base decides whether a status change is allowed; every change goes through `ensure_allowed`
and leaves an immutable `TimelineEntry`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from rma.domain.errors import InvalidTransitionError


class Status(StrEnum):
    REQUESTED = "requested"
    PENDING_REVIEW = "pending_review"
    AUTHORIZED = "authorized"
    REJECTED = "rejected"
    LABEL_ISSUED = "label_issued"
    IN_TRANSIT = "in_transit"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    INSPECTED = "inspected"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"
    NEEDS_ATTENTION = "needs_attention"
    CLOSED = "closed"


S = Status

# needs_attention is reachable from every status that is not final (see `_with_attention` below); from it an operator
# puts the return back where it belongs once the cause is fixed.
_TABLE: Final[dict[Status, frozenset[Status]]] = {
    S.REQUESTED: frozenset({S.AUTHORIZED, S.PENDING_REVIEW, S.REJECTED}),
    S.PENDING_REVIEW: frozenset({S.AUTHORIZED, S.REJECTED, S.CANCELLED}),
    # authorized -> refund_pending is the returnless path: no label, no parcel.
    S.AUTHORIZED: frozenset({S.LABEL_ISSUED, S.REFUND_PENDING, S.CANCELLED}),
    S.LABEL_ISSUED: frozenset({S.IN_TRANSIT, S.EXPIRED, S.CANCELLED, S.DELIVERED}),
    S.IN_TRANSIT: frozenset({S.DELIVERED, S.EXCEPTION}),
    # A parcel in exception may turn up again, be refunded anyway (lost by the carrier), or be given up.
    S.EXCEPTION: frozenset({S.IN_TRANSIT, S.DELIVERED, S.REFUND_PENDING, S.CANCELLED}),
    S.DELIVERED: frozenset({S.INSPECTED}),
    # An inspection that finds nothing refundable (wrong item returned, no refund due) closes without a refund.
    S.INSPECTED: frozenset({S.REFUND_PENDING, S.CLOSED}),
    S.REFUND_PENDING: frozenset({S.REFUNDED, S.REFUND_FAILED}),
    S.REFUND_FAILED: frozenset({S.REFUND_PENDING}),
    S.REFUNDED: frozenset({S.CLOSED}),
    S.REJECTED: frozenset({S.CLOSED}),
    S.EXPIRED: frozenset({S.CLOSED}),
    S.CANCELLED: frozenset({S.CLOSED}),
    S.NEEDS_ATTENTION: frozenset(
        {
            S.PENDING_REVIEW,
            S.AUTHORIZED,
            S.REJECTED,
            S.LABEL_ISSUED,
            S.IN_TRANSIT,
            S.DELIVERED,
            S.INSPECTED,
            S.REFUND_PENDING,
            S.CANCELLED,
        }
    ),
    S.CLOSED: frozenset(),
}

FINAL_STATUSES: Final[frozenset[Status]] = frozenset({S.CLOSED})
# Statuses in which nothing more happens on its own: the end of the road before closing.
SETTLED_STATUSES: Final[frozenset[Status]] = frozenset({S.REFUNDED, S.REJECTED, S.EXPIRED, S.CANCELLED, S.CLOSED})


def _with_attention(table: dict[Status, frozenset[Status]]) -> dict[Status, frozenset[Status]]:
    return {
        src: targets | {S.NEEDS_ATTENTION} if src not in SETTLED_STATUSES and src is not S.NEEDS_ATTENTION else targets
        for src, targets in table.items()
    }


TRANSITIONS: Final[dict[Status, frozenset[Status]]] = _with_attention(_TABLE)


def allowed_targets(current: Status) -> frozenset[Status]:
    return TRANSITIONS[current]


def is_allowed(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def ensure_allowed(current: Status, target: Status) -> None:
    if not is_allowed(current, target):
        raise InvalidTransitionError(current.value, target.value)


class Actor(StrEnum):
    """Who caused a transition."""

    SYSTEM = "system"
    POLICY = "policy"
    CARRIER = "carrier"
    INSPECTOR = "inspector"
    GATEWAY = "gateway"
    OPERATOR = "operator"
    CUSTOMER = "customer"
    UPSTREAM = "upstream"


class TimelineEntry(BaseModel):
    """One transition, as it happened. Immutable: the timeline is append-only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1)
    from_status: Status | None
    to_status: Status
    at: AwareDatetime
    actor: Actor
    cause: str = Field(min_length=1, max_length=500)
    line_id: str | None = None


def make_entry(
    *,
    seq: int,
    from_status: Status | None,
    to_status: Status,
    at: datetime,
    actor: Actor,
    cause: str,
    line_id: str | None = None,
) -> TimelineEntry:
    if from_status is not None:
        ensure_allowed(from_status, to_status)
    return TimelineEntry(
        seq=seq,
        from_status=from_status,
        to_status=to_status,
        at=at,
        actor=actor,
        cause=cause,
        line_id=line_id,
    )
