"""A sandbox carrier: labels on demand, and parcels that travel on the application clock.

Each parcel's journey is a pure function of its tracking number and label time, so every process agrees on it:
a drop-off delay, days in transit, then delivered, unless the parcel draws an exception (lost, returned to sender,
damaged) or is never shipped at all (its label expires). The shares are configurable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.upsert import inserted_keys
from rma.adapters.sandbox.tables import SandboxLabelRow
from rma.domain.requests import Address
from rma.ports.clock import Clock
from rma.ports.documents import DocumentRenderer, LabelData
from rma.ports.providers import (
    Label,
    LabelRefused,
    LabelRequest,
    LabelToVoid,
    TrackedParcel,
    TrackingEvent,
    TrackingState,
    TrackingUpdate,
    VoidOutcome,
)

CARRIER_NAME = "sandbox"
SERVICE = "Ground Return"
LABEL_COST = 795
_DEPOTS = ("Sparks, NV, US", "Salt Lake City, UT, US", "Sacramento, CA, US")


@dataclass(frozen=True, slots=True)
class JourneyMix:
    """Shares (0..1) of parcels that never ship, get lost, go back to the sender, or arrive damaged."""

    never_shipped: float = 0.03
    lost: float = 0.02
    returned_to_sender: float = 0.01
    damaged: float = 0.01


def _draw(tracking_number: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{tracking_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class Journey:
    fate: TrackingState | None  # None: never shipped
    dropped_off_after: timedelta
    delivered_after: timedelta

    def state_at(self, label_time: datetime, now: datetime) -> tuple[TrackingState, datetime] | None:
        """The parcel's state and the time of its last scan, or None before the first scan."""
        elapsed = now - label_time
        if self.fate is None or elapsed < self.dropped_off_after:
            return None
        if elapsed >= self.delivered_after:
            return self.fate, label_time + self.delivered_after
        out_for_delivery = self.delivered_after - timedelta(hours=10)
        if self.fate is TrackingState.DELIVERED and elapsed >= out_for_delivery:
            return TrackingState.OUT_FOR_DELIVERY, label_time + out_for_delivery
        return TrackingState.IN_TRANSIT, label_time + self.dropped_off_after


def journey_of(tracking_number: str, mix: JourneyMix) -> Journey:
    fate_draw = _draw(tracking_number, "fate")
    thresholds = [
        (mix.never_shipped, None),
        (mix.lost, TrackingState.LOST),
        (mix.returned_to_sender, TrackingState.RETURNED_TO_SENDER),
        (mix.damaged, TrackingState.DAMAGED),
    ]
    fate: TrackingState | None = TrackingState.DELIVERED
    cumulative = 0.0
    for share, outcome in thresholds:
        cumulative += share
        if fate_draw < cumulative:
            fate = outcome
            break
    drop_off = timedelta(hours=4 + 68 * _draw(tracking_number, "drop"))  # 4 h .. 3 days after the label
    transit = timedelta(days=2 + 4 * _draw(tracking_number, "transit"))  # 2 .. 6 days on the road
    return Journey(fate=fate, dropped_off_after=drop_off, delivered_after=drop_off + transit)


class SandboxCarrier:
    """Hands back data only, like the carriers whose labels we render ourselves: the document is drawn by the
    renderer it is given (a PDF, ZPL or PNG 4x6 label addressed to the returns centre)."""

    name = CARRIER_NAME

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        mix: JourneyMix | None = None,
        *,
        renderer: DocumentRenderer,
        warehouse: Address,
        label_format: str = "PDF",
        weight_oz: float = 32,
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self.mix = mix or JourneyMix()
        self._renderer = renderer
        self._warehouse = warehouse
        self._format = label_format
        self._weight_oz = weight_oz

    @staticmethod
    def _tracking_number(idempotency_key: str) -> str:
        digits = int(hashlib.sha256(idempotency_key.encode()).hexdigest()[:15], 16) % 10**12
        return f"1ZSBX{digits:012d}"

    def _label(self, key: str, tracking_number: str, request: LabelRequest) -> Label:
        data = LabelData(
            rma_number=request.rma_number,
            tracking_number=tracking_number,
            carrier=CARRIER_NAME,
            service=SERVICE,
            weight_oz=request.weight_oz,
            ship_from=request.ship_from,
            ship_to=self._warehouse,
        )
        return Label(
            tracking_number=tracking_number,
            carrier=CARRIER_NAME,
            service=SERVICE,
            label_format=self._format,
            document=self._renderer.label(data, label_format=self._format),
            cost=LABEL_COST,
            currency="USD",
            provider_ref=key,
        )

    def open_shipments(self, requests: Sequence[LabelRequest]) -> dict[str, str | LabelRefused]:
        # Nothing to create before the purchase: the idempotency key is the sandbox's own reference.
        return {request.idempotency_key: request.idempotency_key for request in requests}

    def buy_labels(self, requests: Sequence[LabelRequest]) -> dict[str, Label | LabelRefused]:
        by_key = {request.idempotency_key: request for request in requests}
        sold = {key: self._tracking_number(key) for key in by_key}
        now = self._clock.now()
        rows = [
            {
                "idempotency_key": key,
                "tracking_number": tracking,
                "rma_number": by_key[key].rma_number,
                "created_at": now,
            }
            for key, tracking in sold.items()
        ]
        with self._sessions() as session, session.begin():
            fresh = inserted_keys(session, SandboxLabelRow, rows)
            # A repeated key answers with the label sold the first time.
            sold |= self._stored(session, [key for key in by_key if key not in fresh])
        return {key: self._label(key, sold[key], by_key[key]) for key in by_key}

    def void_labels(self, labels: Sequence[LabelToVoid]) -> dict[str, VoidOutcome]:
        """Like a carrier: an unused label is refunded; one the parcel was scanned with is not."""
        now = self._clock.now()
        keys = [label.idempotency_key for label in labels]
        with self._sessions() as session, session.begin():
            rows = session.execute(
                select(
                    SandboxLabelRow.idempotency_key, SandboxLabelRow.tracking_number, SandboxLabelRow.created_at
                ).where(SandboxLabelRow.idempotency_key.in_(keys))
            ).all()
            outcomes: dict[str, VoidOutcome] = dict.fromkeys(keys, VoidOutcome.NOT_BOUGHT)
            for key, tracking, created in rows:
                scanned = journey_of(tracking, self.mix).state_at(created, now) is not None
                outcomes[key] = VoidOutcome.REJECTED if scanned else VoidOutcome.REFUNDED
            refunded = [key for key, outcome in outcomes.items() if outcome is VoidOutcome.REFUNDED]
            if refunded:
                session.execute(
                    update(SandboxLabelRow).where(SandboxLabelRow.idempotency_key.in_(refunded)).values(voided_at=now)
                )
        return outcomes

    @staticmethod
    def _stored(session: Session, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        rows = session.execute(
            select(SandboxLabelRow.idempotency_key, SandboxLabelRow.tracking_number).where(
                SandboxLabelRow.idempotency_key.in_(list(keys))
            )
        )
        return {key: tracking for key, tracking in rows}  # noqa: C416 - rows, not pairs

    def track(self, parcels: Sequence[TrackedParcel]) -> dict[str, TrackingUpdate]:
        tracking_numbers = [parcel.tracking_number for parcel in parcels]
        now = self._clock.now()
        with self._sessions() as session:
            rows = session.execute(
                select(SandboxLabelRow.tracking_number, SandboxLabelRow.created_at).where(
                    SandboxLabelRow.tracking_number.in_(list(tracking_numbers))
                )
            )
            created: dict[str, datetime] = dict(rows.all())
        updates: dict[str, TrackingUpdate] = {}
        for number in tracking_numbers:
            label_time = created.get(number)
            if label_time is None:
                continue
            journey = journey_of(number, self.mix)
            scanned = journey.state_at(label_time, now)
            state, at = scanned if scanned is not None else (TrackingState.PRE_TRANSIT, None)
            # Like a real carrier, an estimate once the parcel travels (the same whatever befalls it on the road).
            travelling = state in {TrackingState.IN_TRANSIT, TrackingState.OUT_FOR_DELIVERY}
            estimate = label_time + journey.delivered_after if travelling else None
            events = _events(journey, label_time, now)
            updates[number] = TrackingUpdate(
                tracking_number=number,
                state=state,
                at=at,
                estimated_delivery=estimate,
                events=events,
                detail=events[-1].message if events else None,
            )
        return updates


def _events(journey: Journey, label_time: datetime, now: datetime) -> tuple[TrackingEvent, ...]:
    """The scans so far: drop-off, an out-for-delivery scan for parcels on their way to being delivered, the end."""
    depot = _DEPOTS[int(_draw(str(label_time), "depot") * len(_DEPOTS))]
    scans: list[TrackingEvent] = []
    if journey.fate is None or now - label_time < journey.dropped_off_after:
        return ()
    dropped = label_time + journey.dropped_off_after
    scans.append(TrackingEvent(at=dropped, state=TrackingState.IN_TRANSIT, message="Accepted at drop-off", place=depot))
    delivered = label_time + journey.delivered_after
    out = delivered - timedelta(hours=10)
    if journey.fate is TrackingState.DELIVERED and now >= out:
        scans.append(
            TrackingEvent(
                at=out, state=TrackingState.OUT_FOR_DELIVERY, message="Out for delivery", place="Reno, NV, US"
            )
        )
    if now >= delivered:
        messages = {
            TrackingState.DELIVERED: "Delivered to the returns centre",
            TrackingState.LOST: "Parcel lost in the network",
            TrackingState.RETURNED_TO_SENDER: "Returned to sender",
            TrackingState.DAMAGED: "Parcel damaged in transit",
        }
        scans.append(TrackingEvent(at=delivered, state=journey.fate, message=messages[journey.fate], place=depot))
    return tuple(scans)
