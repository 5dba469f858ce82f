"""EasyPost's words for a parcel's state and a refund's, in ours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from rma.adapters.easypost.model import Tracker, TrackingDetail
from rma.ports.providers import TrackingEvent, TrackingState, TrackingUpdate, VoidOutcome

TRACKER_STATES: Final[Mapping[str, TrackingState]] = {
    "unknown": TrackingState.UNKNOWN,
    "pre_transit": TrackingState.PRE_TRANSIT,
    "in_transit": TrackingState.IN_TRANSIT,
    "out_for_delivery": TrackingState.OUT_FOR_DELIVERY,
    "delivered": TrackingState.DELIVERED,
    "available_for_pickup": TrackingState.AVAILABLE_FOR_PICKUP,
    "return_to_sender": TrackingState.RETURNED_TO_SENDER,
    "failure": TrackingState.FAILURE,
    "cancelled": TrackingState.CANCELLED,
    "error": TrackingState.ERROR,
}
# EasyPost has no status for a lost or damaged parcel; its `status_detail` says so, under whichever status the
# carrier's scan mapped to. A delivered parcel stays delivered (damage on arrival is the inspection's business).
_DETAIL_STATES: Final[Mapping[str, TrackingState]] = {"lost": TrackingState.LOST, "damaged": TrackingState.DAMAGED}

REFUND_OUTCOMES: Final[Mapping[str, VoidOutcome]] = {
    "refunded": VoidOutcome.REFUNDED,
    "submitted": VoidOutcome.SUBMITTED,
    "rejected": VoidOutcome.REJECTED,
    # Bill-on-scan carriers: nothing to refund now, and retrying will not change it.
    "not_applicable": VoidOutcome.REJECTED,
}


def tracking_state(status: str, status_detail: str | None = None) -> TrackingState:
    """Our state for an EasyPost status; a status EasyPost adds later reads as UNKNOWN rather than failing."""
    state = TRACKER_STATES.get(status.lower(), TrackingState.UNKNOWN)
    refined = _DETAIL_STATES.get((status_detail or "").lower())
    if refined is not None and state is not TrackingState.DELIVERED:
        return refined
    return state


def void_outcome(refund_status: str | None) -> VoidOutcome | None:
    return REFUND_OUTCOMES.get(refund_status.lower()) if refund_status else None


def place(detail: TrackingDetail) -> str | None:
    """Where a scan happened, "City, ST, Country" as far as the carrier says: a depot, never the customer's street."""
    parts = [part for part in (detail.city, detail.state, detail.country) if part]
    return ", ".join(parts) or None


def tracking_update(tracker: Tracker, tracking_number: str | None = None) -> TrackingUpdate:
    events = tuple(
        TrackingEvent(
            at=detail.at,
            state=tracking_state(detail.status, detail.status_detail),
            message=detail.message,
            place=place(detail),
        )
        for detail in tracker.details
    )
    latest = events[-1] if events else None
    return TrackingUpdate(
        tracking_number=tracking_number or tracker.tracking_code,
        state=tracking_state(tracker.status, tracker.status_detail),
        at=latest.at if latest else None,
        estimated_delivery=tracker.est_delivery_date,
        events=events,
        detail=(latest.message or None) if latest else tracker.status_detail,
    )
