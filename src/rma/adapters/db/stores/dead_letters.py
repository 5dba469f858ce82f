"""Messages that could not be processed, with their cause, until a person replays them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rma.adapters.db.tables import DeadLetterRow
from rma.ports.stores import DeadLetter, DeadLetterRecord


class SqlDeadLetterStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, letter: DeadLetter, *, at: datetime) -> int:
        row = DeadLetterRow(created_at=at, **dataclasses.asdict(letter))
        self._session.add(row)
        self._session.flush()
        return row.id

    @staticmethod
    def _record(row: DeadLetterRow) -> DeadLetterRecord:
        return DeadLetterRecord(
            id=row.id,
            created_at=row.created_at,
            replayed_at=row.replayed_at,
            letter=DeadLetter(**{field.name: getattr(row, field.name) for field in dataclasses.fields(DeadLetter)}),
        )

    def recent(self, *, limit: int, include_replayed: bool) -> Sequence[DeadLetterRecord]:
        stmt = select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
        if not include_replayed:
            stmt = stmt.where(DeadLetterRow.replayed_at.is_(None))
        return [self._record(row) for row in self._session.scalars(stmt)]

    def get(self, letter_id: int) -> DeadLetterRecord | None:
        row = self._session.get(DeadLetterRow, letter_id)
        return None if row is None else self._record(row)

    def mark_replayed(self, letter_id: int, *, at: datetime) -> None:
        self._session.execute(update(DeadLetterRow).where(DeadLetterRow.id == letter_id).values(replayed_at=at))
