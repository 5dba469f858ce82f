"""Parcels in the carrier's hands and when each is polled next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from rma.adapters.db.stores.statements import update_one
from rma.adapters.db.tables import ShipmentRow, table_of
from rma.adapters.db.upsert import insert_or_ignore
from rma.ports.stores import Parcel


class SqlShipmentStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, return_id: UUID, *, tracking_number: str, next_poll_at: datetime, expires_at: datetime) -> None:
        values = {
            "return_id": return_id,
            "tracking_number": tracking_number,
            "carrier_status": "label_created",
            "next_poll_at": next_poll_at,
            "expires_at": expires_at,
            "polls": 0,
        }
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

    def update(self, return_id: UUID, *, state: str, next_poll_at: datetime | None, event_at: datetime | None) -> None:
        values: dict[str, object] = {
            "carrier_status": state,
            "next_poll_at": next_poll_at,
            "polls": ShipmentRow.polls + 1,
        }
        if event_at is not None:
            values["last_event_at"] = event_at
        update_one(
            self._session,
            ShipmentRow,
            ShipmentRow.return_id == return_id,
            f"no shipment for return {return_id}",
            **values,
        )
