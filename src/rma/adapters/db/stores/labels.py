"""Labels bought for returns (the idempotency key is reserved before the carrier is called)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from rma.adapters.db.tables import LabelRow, table_of
from rma.adapters.db.upsert import inserted_keys
from rma.ports.providers import Label
from rma.ports.stores import LabelRecord


class SqlLabelStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, return_id: UUID) -> LabelRecord | None:
        row = self._session.get(LabelRow, return_id)
        if row is None:
            return None
        return LabelRecord(
            return_id=row.return_id,
            idempotency_key=row.idempotency_key,
            carrier=row.carrier,
            tracking_number=row.tracking_number,
            label_format=row.label_format,
            document=row.document,
        )

    def reserve(self, return_id: UUID, *, idempotency_key: str, carrier: str, at: datetime) -> bool:
        return return_id in self.reserve_many({return_id: idempotency_key}, carrier=carrier, at=at)

    def reserve_many(self, keys: dict[UUID, str], *, carrier: str, at: datetime) -> set[UUID]:
        rows = [
            {"return_id": return_id, "idempotency_key": key, "carrier": carrier, "requested_at": at}
            for return_id, key in keys.items()
        ]
        return inserted_keys(self._session, LabelRow, rows)

    def complete_many(self, labels: dict[UUID, Label], *, at: datetime) -> None:
        if not labels:
            return
        table = table_of(LabelRow)
        self._session.execute(
            update(table)
            .where(table.c.return_id == bindparam("rid"))
            .values(
                tracking_number=bindparam("tracking_number"),
                carrier=bindparam("carrier_name"),
                label_format=bindparam("label_format"),
                document=bindparam("document"),
                cost=bindparam("cost"),
                created_at=bindparam("at"),
            ),
            [
                {
                    "rid": return_id,
                    "tracking_number": label.tracking_number,
                    "carrier_name": label.carrier,
                    "label_format": label.label_format,
                    "document": label.document,
                    "cost": label.cost,
                    "at": at,
                }
                for return_id, label in labels.items()
            ],
        )
