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

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.upsert import inserted_keys
from rma.adapters.sandbox.tables import SandboxLabelRow
from rma.adapters.sandbox.zpl import render_zpl
from rma.ports.clock import Clock
from rma.ports.providers import Label, LabelRequest, TrackingState, TrackingUpdate

CARRIER_NAME = "sandbox"
LABEL_COST = 795


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
    name = CARRIER_NAME

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock, mix: JourneyMix | None = None) -> None:
        self._sessions = session_factory
        self._clock = clock
        self.mix = mix or JourneyMix()

    @staticmethod
    def _tracking_number(idempotency_key: str) -> str:
        digits = int(hashlib.sha256(idempotency_key.encode()).hexdigest()[:15], 16) % 10**12
        return f"1ZSBX{digits:012d}"

    @staticmethod
    def _label(tracking_number: str, rma_number: str, request: LabelRequest | None) -> Label:
        document = render_zpl(
            tracking_number=tracking_number,
            rma_number=rma_number,
            ship_from=request.ship_from if request else None,
        )
        return Label(
            tracking_number=tracking_number,
            carrier=CARRIER_NAME,
            label_format="ZPL",
            document=document,
            cost=LABEL_COST,
        )

    def create_labels(self, requests: Sequence[LabelRequest]) -> dict[str, Label]:
        by_key = {request.idempotency_key: request for request in requests}
        sold = {key: (self._tracking_number(key), request.rma_number) for key, request in by_key.items()}
        now = self._clock.now()
        rows = [
            {"idempotency_key": key, "tracking_number": tracking, "rma_number": rma, "created_at": now}
            for key, (tracking, rma) in sold.items()
        ]
        with self._sessions() as session, session.begin():
            fresh = inserted_keys(session, SandboxLabelRow, rows)
            # A repeated key answers with the label sold the first time.
            sold |= self._stored(session, [key for key in by_key if key not in fresh])
        return {key: self._label(*sold[key], by_key[key]) for key in by_key}

    def find_labels(self, idempotency_keys: Sequence[str]) -> dict[str, Label]:
        with self._sessions() as session:
            stored = self._stored(session, idempotency_keys)
        return {key: self._label(tracking, rma, None) for key, (tracking, rma) in stored.items()}

    @staticmethod
    def _stored(session: Session, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        if not keys:
            return {}
        rows = session.execute(
            select(SandboxLabelRow.idempotency_key, SandboxLabelRow.tracking_number, SandboxLabelRow.rma_number).where(
                SandboxLabelRow.idempotency_key.in_(list(keys))
            )
        )
        return {key: (tracking, rma) for key, tracking, rma in rows}

    def track(self, tracking_numbers: Sequence[str]) -> dict[str, TrackingUpdate]:
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
            updates[number] = TrackingUpdate(tracking_number=number, state=state, at=at, estimated_delivery=estimate)
        return updates
