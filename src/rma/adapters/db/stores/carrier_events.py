"""Carrier webhook events, kept by the carrier's own event id so that a duplicate delivery changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from rma.adapters.db.tables import CarrierEventRow
from rma.adapters.db.upsert import inserted_keys
from rma.ports.providers import TrackingEvent, TrackingState, TrackingUpdate
from rma.ports.stores import CarrierEvent


def update_to_json(update: TrackingUpdate) -> dict[str, Any]:
    def when(at: datetime | None) -> str | None:
        return None if at is None else at.isoformat()

    return {
        "tracking_number": update.tracking_number,
        "state": update.state.value,
        "at": when(update.at),
        "estimated_delivery": when(update.estimated_delivery),
        "detail": update.detail,
        "events": [
            {"at": when(e.at), "state": e.state.value, "message": e.message, "place": e.place} for e in update.events
        ],
    }


def update_from_json(data: dict[str, Any]) -> TrackingUpdate:
    def when(value: object) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))

    events = tuple(
        TrackingEvent(
            at=datetime.fromisoformat(e["at"]), state=TrackingState(e["state"]), message=e["message"], place=e["place"]
        )
        for e in data["events"]
    )
    return TrackingUpdate(
        tracking_number=data["tracking_number"],
        state=TrackingState(data["state"]),
        at=when(data["at"]),
        estimated_delivery=when(data["estimated_delivery"]),
        events=events,
        detail=data["detail"],
    )


class SqlCarrierEventStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, event: CarrierEvent, *, at: datetime) -> bool:
        row = {
            "carrier": event.carrier,
            "event_id": event.event_id,
            "tracking_number": event.update.tracking_number,
            "received_at": at,
            "update": update_to_json(event.update),
        }
        # The primary key is (carrier, event id): RETURNING gives the first column of the rows inserted.
        return bool(inserted_keys(self._session, CarrierEventRow, [row], key="event_id"))

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[CarrierEvent]:
        if not keys:
            return []
        match = or_(*(and_(CarrierEventRow.carrier == c, CarrierEventRow.event_id == e) for c, e in keys))
        rows = self._session.scalars(select(CarrierEventRow).where(match, CarrierEventRow.applied_at.is_(None)))
        return [CarrierEvent(row.carrier, row.event_id, update_from_json(row.update)) for row in rows]

    def mark_applied(self, keys: Sequence[tuple[str, str]], *, at: datetime) -> None:
        if keys:
            match = or_(*(and_(CarrierEventRow.carrier == c, CarrierEventRow.event_id == e) for c, e in keys))
            self._session.execute(update(CarrierEventRow).where(match).values(applied_at=at))
