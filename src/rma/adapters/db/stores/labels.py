"""Labels bought for returns (the idempotency key is reserved before the carrier is called)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from rma.adapters.db.stores.statements import update_one
from rma.adapters.db.tables import LabelRow
from rma.adapters.db.upsert import inserted
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
        values = {"return_id": return_id, "idempotency_key": idempotency_key, "carrier": carrier, "requested_at": at}
        return inserted(self._session, LabelRow, values)

    def complete(self, return_id: UUID, label: Label, *, at: datetime) -> None:
        update_one(
            self._session,
            LabelRow,
            LabelRow.return_id == return_id,
            f"no label reservation for return {return_id}",
            tracking_number=label.tracking_number,
            carrier=label.carrier,
            label_format=label.label_format,
            document=label.document,
            cost=label.cost,
            created_at=at,
        )
