"""Customer messages: one row per (return, event), written at commit, sent in leased batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from rma.adapters.db.tables import NotificationRow, ReturnRow, table_of
from rma.adapters.db.upsert import insert_or_ignore
from rma.domain.lifecycle import Status
from rma.domain.requests import Contact
from rma.ports.messaging import Announcement
from rma.ports.stores import OutgoingNotification


class SqlNotificationStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, announcements: Sequence[Announcement], *, at: datetime) -> None:
        if announcements:
            values = [
                {"return_id": item.return_id, "event": item.event.value, "seq": item.seq, "created_at": at}
                for item in announcements
            ]
            insert_or_ignore(self._session, NotificationRow, values)

    def pending(self, return_id: UUID) -> Sequence[int]:
        stmt = (
            select(NotificationRow.id)
            .where(NotificationRow.return_id == return_id, NotificationRow.sent_at.is_(None))
            .order_by(NotificationRow.seq)
        )
        return list(self._session.scalars(stmt))

    def to_dispatch(self, *, now: datetime, limit: int) -> Sequence[tuple[int, UUID]]:
        leased = aliased(NotificationRow)
        still_leased = (
            exists()
            .where(leased.return_id == NotificationRow.return_id, leased.sent_at.is_(None), leased.leased_until > now)
            .correlate(NotificationRow)
        )
        stmt = (
            select(NotificationRow.id, NotificationRow.return_id)
            .where(
                NotificationRow.sent_at.is_(None),
                or_(NotificationRow.leased_until.is_(None), NotificationRow.leased_until <= now),
                ~still_leased,
            )
            .order_by(NotificationRow.sent_at, NotificationRow.created_at)  # the order of ix_notifications_pending
            .limit(limit)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            # Two ticks at once hand out disjoint rows (a doubled batch would only be de-duplicated by the notifier).
            stmt = stmt.with_for_update(of=NotificationRow, skip_locked=True)
        return [(nid, rid) for nid, rid in self._session.execute(stmt)]

    def lease(self, notification_ids: Sequence[int], *, until: datetime) -> None:
        if notification_ids:
            self._session.execute(
                update(NotificationRow).where(NotificationRow.id.in_(notification_ids)).values(leased_until=until)
            )

    def outgoing(self, notification_ids: Sequence[int]) -> Sequence[OutgoingNotification]:
        if not notification_ids:
            return []
        stmt = (
            select(
                NotificationRow.id,
                NotificationRow.return_id,
                NotificationRow.event,
                ReturnRow.rma_number,
                ReturnRow.decision["reasons"],
                ReturnRow.attention_cause,
                ReturnRow.request["contact"],
            )
            .join(ReturnRow, ReturnRow.id == NotificationRow.return_id)
            .where(NotificationRow.id.in_(notification_ids), NotificationRow.sent_at.is_(None))
            .order_by(NotificationRow.return_id, NotificationRow.seq)
        )
        return [
            OutgoingNotification(
                id=nid,
                return_id=rid,
                event=Status(event),
                rma_number=rma_number,
                reasons=list(reasons or []),
                attention_cause=cause,
                contact=Contact.model_validate(contact),
            )
            for nid, rid, event, rma_number, reasons, cause, contact in self._session.execute(stmt)
        ]

    def mark_sent(self, sent: Sequence[tuple[int, str]], *, at: datetime) -> None:
        if not sent:
            return
        table = table_of(NotificationRow)
        self._session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("nid"))
            .values(sent_at=at, provider_message_id=bindparam("provider_id"), leased_until=None),
            [{"nid": nid, "provider_id": provider_id} for nid, provider_id in sent],
        )
