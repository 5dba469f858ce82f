"""Parcels in the carrier's hands and when each is polled next."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from rma.adapters.db.tables import ParcelEventRow, ShipmentRow, UtcDateTime, table_of
from rma.adapters.db.upsert import insert_or_ignore
from rma.domain.text import fit
from rma.ports.providers import TrackingEvent, TrackingState
from rma.ports.stores import NewParcel, Parcel, ParcelNews


class SqlShipmentStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add_many(self, parcels: dict[UUID, NewParcel], *, next_poll_at: datetime, expires_at: datetime) -> None:
        if not parcels:
            return
        values = [
            {
                "return_id": return_id,
                "tracking_number": parcel.tracking_number,
                "carrier": parcel.carrier,
                "tracker_ref": parcel.tracker_ref,
                "carrier_status": "label_created",
                "next_poll_at": next_poll_at,
                "expires_at": expires_at,
                "polls": 0,
            }
            for return_id, parcel in parcels.items()
        ]
        insert_or_ignore(self._session, ShipmentRow, values)

    def due(self, *, now: datetime, limit: int) -> Sequence[tuple[UUID, str]]:
        stmt = (
            select(ShipmentRow.return_id, ShipmentRow.tracking_number)
            .where(ShipmentRow.next_poll_at <= now)
            .order_by(ShipmentRow.next_poll_at)
            .limit(limit)
        )
        return [(return_id, tracking) for return_id, tracking in self._session.execute(stmt)]

    def lease(self, return_ids: Sequence[UUID], *, until: datetime) -> None:
        if return_ids:
            self._session.execute(
                update(ShipmentRow).where(ShipmentRow.return_id.in_(return_ids)).values(next_poll_at=until)
            )

    def schedule_polls(self, next_polls: dict[UUID, datetime]) -> None:
        if next_polls:
            table = table_of(ShipmentRow)
            self._session.execute(
                update(table).where(table.c.return_id == bindparam("rid")).values(next_poll_at=bindparam("at")),
                [{"rid": return_id, "at": at} for return_id, at in next_polls.items()],
            )

    def parcels(self, return_ids: Sequence[UUID]) -> dict[UUID, Parcel]:
        if not return_ids:
            return {}
        stmt = select(ShipmentRow).where(ShipmentRow.return_id.in_(list(return_ids)))
        return {
            row.return_id: Parcel(
                tracking_number=row.tracking_number,
                expires_at=row.expires_at,
                carrier_status=row.carrier_status,
                carrier=row.carrier or "sandbox",
                tracker_ref=row.tracker_ref,
                last_event_at=row.last_event_at,
                shipped_at=row.shipped_at,
                webhook_seen_at=row.webhook_seen_at,
            )
            for row in self._session.scalars(stmt)
        }

    def by_tracking_number(self, tracking_numbers: Sequence[str]) -> dict[str, UUID]:
        if not tracking_numbers:
            return {}
        stmt = select(ShipmentRow.tracking_number, ShipmentRow.return_id).where(
            ShipmentRow.tracking_number.in_(list(tracking_numbers))
        )
        return {number: return_id for number, return_id in self._session.execute(stmt)}  # noqa: C416 - rows, not pairs

    def history(self, return_id: UUID) -> Sequence[TrackingEvent]:
        stmt = (
            select(ParcelEventRow)
            .where(ParcelEventRow.return_id == return_id)
            .order_by(ParcelEventRow.at, ParcelEventRow.id)
        )
        return [
            TrackingEvent(at=row.at, state=TrackingState(row.state), message=row.message, place=row.place)
            for row in self._session.scalars(stmt)
        ]

    def record_news(self, news: Sequence[ParcelNews]) -> None:
        if not news:
            return
        table = table_of(ShipmentRow)
        self._session.execute(
            update(table)
            .where(table.c.return_id == bindparam("rid"))
            .values(
                carrier_status=bindparam("state"),
                next_poll_at=bindparam("next_poll"),
                polls=table.c.polls + 1,
                # The carrier's scan time when it gave one; the one seen before otherwise.
                last_event_at=func.coalesce(bindparam("event_at", type_=UtcDateTime()), table.c.last_event_at),
                shipped_at=func.coalesce(table.c.shipped_at, bindparam("shipped", type_=UtcDateTime())),
                webhook_seen_at=func.coalesce(bindparam("webhook", type_=UtcDateTime()), table.c.webhook_seen_at),
            ),
            [
                {
                    "rid": item.return_id,
                    "state": item.state,
                    "next_poll": item.next_poll_at,
                    "event_at": item.event_at,
                    "shipped": item.shipped_at,
                    "webhook": item.webhook_at,
                }
                for item in news
            ],
        )
        events = [
            {
                "return_id": item.return_id,
                "event_key": event_key(event),
                "at": event.at,
                "state": event.state.value,
                "message": fit(event.message, 500) or event.state.value,
                "place": fit(event.place, 200),
            }
            for item in news
            for event in item.events
        ]
        if events:
            insert_or_ignore(self._session, ParcelEventRow, events)  # an event seen before (a repeat poll) is kept once


def event_key(event: TrackingEvent) -> str:
    """The same event told twice (by a poll and a webhook) has the same key."""
    text = f"{event.at.isoformat()}|{event.state.value}|{event.message}|{event.place or ''}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]
