"""Inspections opened at delivery: their deadline, the grade recorded, escalation when late."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rma.adapters.db.stores.statements import update_one
from rma.adapters.db.tables import InspectionRow
from rma.adapters.db.upsert import insert_or_ignore
from rma.domain.inspection import Grade
from rma.ports.stores import InspectionRecord


class SqlInspectionStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def open(self, return_id: UUID, *, due_at: datetime, auto_inspect_at: datetime | None) -> None:
        values = {"return_id": return_id, "due_at": due_at, "auto_inspect_at": auto_inspect_at}
        insert_or_ignore(self._session, InspectionRow, values)

    def get_many(self, return_ids: Sequence[UUID]) -> dict[UUID, InspectionRecord]:
        if not return_ids:
            return {}
        stmt = select(
            InspectionRow.return_id,
            InspectionRow.due_at,
            InspectionRow.inspected_at,
            InspectionRow.grade,
            InspectionRow.escalated_at,
        ).where(InspectionRow.return_id.in_(list(return_ids)))
        return {
            return_id: InspectionRecord(
                return_id=return_id,
                due_at=due_at,
                inspected_at=inspected_at,
                grade=Grade(grade) if grade else None,
                escalated_at=escalated_at,
            )
            for return_id, due_at, inspected_at, grade, escalated_at in self._session.execute(stmt)
        }

    def record(self, return_id: UUID, *, grade: Grade, disposition: str, inspector: str, at: datetime) -> None:
        update_one(
            self._session,
            InspectionRow,
            InspectionRow.return_id == return_id,
            f"no inspection opened for return {return_id}",
            grade=grade.value,
            disposition=disposition,
            inspector=inspector,
            inspected_at=at,
        )

    def due_for_auto(self, *, now: datetime, limit: int) -> Sequence[UUID]:
        stmt = (
            select(InspectionRow.return_id)
            .where(InspectionRow.inspected_at.is_(None), InspectionRow.auto_inspect_at <= now)
            .order_by(InspectionRow.auto_inspect_at)
            .limit(limit)
        )
        return list(self._session.scalars(stmt))

    def lease_auto(self, return_ids: Sequence[UUID], *, until: datetime) -> None:
        if return_ids:
            self._session.execute(
                update(InspectionRow)
                .where(InspectionRow.return_id.in_(return_ids), InspectionRow.inspected_at.is_(None))
                .values(auto_inspect_at=until)
            )

    def overdue(self, *, now: datetime, limit: int) -> Sequence[UUID]:
        stmt = (
            select(InspectionRow.return_id)
            .where(
                InspectionRow.inspected_at.is_(None),
                InspectionRow.escalated_at.is_(None),
                InspectionRow.due_at <= now,
            )
            .order_by(InspectionRow.due_at)
            .limit(limit)
        )
        return list(self._session.scalars(stmt))

    def escalate(self, return_ids: Sequence[UUID], *, at: datetime) -> None:
        if return_ids:
            self._session.execute(
                update(InspectionRow)
                .where(InspectionRow.return_id.in_(return_ids), InspectionRow.escalated_at.is_(None))
                .values(escalated_at=at)
            )
