"""SQLAlchemy `ReturnQueries`: column reads for lists, no aggregate loaded."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.tables import ReturnRow
from rma.domain.lifecycle import Status
from rma.ports.queries import ReturnHeader


class SqlReturnQueries:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def by_order(self, order_id: str, *, channel: str | None, limit: int) -> Sequence[ReturnHeader]:
        stmt = (
            select(
                ReturnRow.id,
                ReturnRow.rma_number,
                ReturnRow.status,
                ReturnRow.channel,
                ReturnRow.order_id,
                ReturnRow.upstream_request_id,
                ReturnRow.created_at,
                ReturnRow.updated_at,
            )
            .where(ReturnRow.order_id == order_id)
            .order_by(ReturnRow.created_at, ReturnRow.id)
            .limit(limit)
        )
        if channel is not None:
            stmt = stmt.where(ReturnRow.channel == channel)
        with self._sessions() as session:
            rows = session.execute(stmt).all()
        return [
            ReturnHeader(
                return_id=row.id,
                rma_number=row.rma_number,
                status=Status(row.status),
                channel=row.channel,
                order_id=row.order_id,
                upstream_request_id=row.upstream_request_id,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row in rows
        ]

    def ping(self) -> None:
        with self._sessions() as session:
            session.execute(text("SELECT 1"))
