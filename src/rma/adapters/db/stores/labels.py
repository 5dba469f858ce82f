"""Labels bought for returns: the idempotency key is reserved before the carrier is called, the carrier's reference
stored before anything is bought on it, the documents kept in the document store (their keys here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from rma.adapters.db.tables import LabelRow, table_of
from rma.adapters.db.upsert import inserted_keys
from rma.ports.stores import LabelRecord, StoredLabel


def _record(row: LabelRow) -> LabelRecord:
    return LabelRecord(
        return_id=row.return_id,
        idempotency_key=row.idempotency_key,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        label_format=row.label_format,
        document_key=row.document_key,
        provider_ref=row.provider_ref,
        service=row.service,
        cost=row.cost,
        currency=row.currency,
        qr_key=row.qr_key,
        void_status=row.void_status,
        legacy_document=row.document,
    )


class SqlLabelStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, return_id: UUID) -> LabelRecord | None:
        row = self._session.get(LabelRow, return_id)
        return None if row is None else _record(row)

    def get_many(self, return_ids: Sequence[UUID]) -> dict[UUID, LabelRecord]:
        if not return_ids:
            return {}
        rows = self._session.scalars(select(LabelRow).where(LabelRow.return_id.in_(list(return_ids))))
        return {row.return_id: _record(row) for row in rows}

    def reserve(self, return_id: UUID, *, idempotency_key: str, carrier: str, at: datetime) -> bool:
        return return_id in self.reserve_many({return_id: idempotency_key}, carrier=carrier, at=at)

    def reserve_many(self, keys: dict[UUID, str], *, carrier: str, at: datetime) -> set[UUID]:
        rows = [
            {"return_id": return_id, "idempotency_key": key, "carrier": carrier, "requested_at": at}
            for return_id, key in keys.items()
        ]
        return inserted_keys(self._session, LabelRow, rows)

    def set_refs(self, refs: dict[UUID, str]) -> None:
        if not refs:
            return
        table = table_of(LabelRow)
        self._session.execute(
            update(table)
            .where(table.c.return_id == bindparam("rid"), table.c.provider_ref.is_(None))
            .values(provider_ref=bindparam("ref")),
            [{"rid": return_id, "ref": ref} for return_id, ref in refs.items()],
        )

    def complete_many(self, labels: dict[UUID, StoredLabel], *, at: datetime) -> None:
        if not labels:
            return
        table = table_of(LabelRow)
        self._session.execute(
            update(table)
            .where(table.c.return_id == bindparam("rid"))
            .values(
                tracking_number=bindparam("tracking_number"),
                label_format=bindparam("label_format"),
                cost=bindparam("cost"),
                currency=bindparam("currency_code"),
                service=bindparam("service_name"),
                provider_ref=bindparam("ref"),
                document_key=bindparam("doc_key"),
                qr_key=bindparam("qr"),
                created_at=bindparam("at"),
            ),
            [
                {
                    "rid": return_id,
                    "tracking_number": stored.label.tracking_number,
                    "label_format": stored.label.label_format,
                    "cost": stored.label.cost,
                    "currency_code": stored.label.currency,
                    "service_name": f"{stored.label.carrier} {stored.label.service}".strip()[:64],
                    "ref": stored.label.provider_ref,
                    "doc_key": stored.document_key,
                    "qr": stored.qr_key,
                    "at": at,
                }
                for return_id, stored in labels.items()
            ],
        )

    def request_void(self, return_ids: Sequence[UUID], *, at: datetime) -> None:
        if return_ids:
            self._session.execute(
                update(LabelRow)
                .where(
                    LabelRow.return_id.in_(list(return_ids)),
                    LabelRow.provider_ref.is_not(None),
                    LabelRow.void_requested_at.is_(None),
                )
                .values(void_requested_at=at)
            )

    def voids_due(self, *, limit: int) -> Sequence[UUID]:
        stmt = (
            select(LabelRow.return_id)
            .where(LabelRow.void_requested_at.is_not(None), LabelRow.void_status.is_(None))
            .order_by(LabelRow.void_requested_at)
            .limit(limit)
        )
        return list(self._session.scalars(stmt))

    def record_voids(self, outcomes: dict[UUID, str], *, at: datetime) -> None:
        if not outcomes:
            return
        table = table_of(LabelRow)
        self._session.execute(
            update(table)
            .where(table.c.return_id == bindparam("rid"))
            .values(void_status=bindparam("outcome"), voided_at=bindparam("at")),
            [{"rid": return_id, "outcome": outcome, "at": at} for return_id, outcome in outcomes.items()],
        )
