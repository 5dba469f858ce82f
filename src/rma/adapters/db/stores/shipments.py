"""Parcels in the carrier's hands and when each is polled next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from rma.adapters.db.tables import ShipmentRow, UtcDateTime, table_of
from rma.adapters.db.upsert import insert_or_ignore
from rma.ports.stores import Parcel, ParcelNews


class SqlShipmentStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add_many(self, tracking_numbers: dict[UUID, str], *, next_poll_at: datetime, expires_at: datetime) -> None:
        if not tracking_numbers:
            return
        values = [
            {
                "return_id": return_id,
                "tracking_number": tracking_number,
                "carrier_status": "label_created",
                "next_poll_at": next_poll_at,
                "expires_at": expires_at,
                "polls": 0,
            }
            for return_id, tracking_number in tracking_numbers.items()
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
        stmt = select(
            ShipmentRow.return_id, ShipmentRow.tracking_number, ShipmentRow.expires_at, ShipmentRow.carrier_status
        ).where(ShipmentRow.return_id.in_(list(return_ids)))
        return {
            return_id: Parcel(number, expires, status)
            for return_id, number, expires, status in self._session.execute(stmt)
        }

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
            ),
            [
                {"rid": item.return_id, "state": item.state, "next_poll": item.next_poll_at, "event_at": item.event_at}
                for item in news
            ],
        )
