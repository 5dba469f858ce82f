"""SQLAlchemy `Stores`: outbox, labels, shipments, inspections, refunds, notifications, dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, bindparam, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from rma.adapters.db.tables import (
    Base,
    DeadLetterRow,
    InspectionRow,
    LabelRow,
    NotificationRow,
    OutboxRow,
    RefundRow,
    ReturnRow,
    ShipmentRow,
    table_of,
)
from rma.adapters.db.upsert import insert_or_ignore, inserted
from rma.domain.inspection import Grade
from rma.domain.lifecycle import Status
from rma.domain.requests import Contact
from rma.domain.returns import ReturnAuthorization
from rma.services.ports import (
    DeadLetter,
    DeadLetterRecord,
    InspectionRecord,
    Label,
    LabelRecord,
    OutgoingNotification,
    Parcel,
    RefundRecord,
    RefundStatus,
    Step,
)
from rma.services.steps import batched


class SqlAlchemyStores:
    def __init__(self, session: Session, now: datetime) -> None:
        self._session = session
        self._now = now
        self.outbox_rows: list[OutboxRow] = []
        self._chains: list[tuple[Step, ...]] = []

    def _update_one(self, model: type[Base], where: ColumnElement[bool], missing: str, **values: object) -> None:
        """One UPDATE on the Core table (no read first, none of the ORM's bookkeeping); LookupError(`missing`) when no
        row matched."""
        done = self._session.execute(update(table_of(model)).where(where).values(**values))
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise LookupError(missing)

    # --- outbox -----------------------------------------------------------------------------------

    def enqueue(self, *steps: Step) -> None:
        if steps:
            self._chains.append(steps)

    def write_outbox(self) -> None:
        """Called by the unit of work before it commits: the queued chains become outbox rows, the per-return chains
        of many returns merged into batch messages (one transaction that moves 100 returns hands on 100 ids in a few
        messages, not 100)."""
        for chain in batched(self._chains):
            row = OutboxRow(
                created_at=self._now,
                message={"chain": [{"task": step.task, "kwargs": step.kwargs} for step in chain]},
                attempts=0,
            )
            self._session.add(row)
            self.outbox_rows.append(row)
        self._chains.clear()

    def discard_outbox(self) -> None:
        self._chains.clear()
        self.outbox_rows.clear()

    # --- labels and shipments ---------------------------------------------------------------------

    def label(self, return_id: UUID) -> LabelRecord | None:
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

    def reserve_label(self, return_id: UUID, *, idempotency_key: str, carrier: str, at: datetime) -> bool:
        values = {"return_id": return_id, "idempotency_key": idempotency_key, "carrier": carrier, "requested_at": at}
        return inserted(self._session, LabelRow, values)

    def complete_label(self, return_id: UUID, label: Label, *, at: datetime) -> None:
        self._update_one(
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

    def add_shipment(
        self, return_id: UUID, *, tracking_number: str, next_poll_at: datetime, expires_at: datetime
    ) -> None:
        values = {
            "return_id": return_id,
            "tracking_number": tracking_number,
            "carrier_status": "label_created",
            "next_poll_at": next_poll_at,
            "expires_at": expires_at,
            "polls": 0,
        }
        insert_or_ignore(self._session, ShipmentRow, values)

    def shipments_due(self, *, now: datetime, limit: int) -> Sequence[tuple[UUID, str]]:
        stmt = (
            select(ShipmentRow.return_id, ShipmentRow.tracking_number)
            .where(ShipmentRow.next_poll_at <= now)
            .order_by(ShipmentRow.next_poll_at)
            .limit(limit)
        )
        return [(return_id, tracking) for return_id, tracking in self._session.execute(stmt)]

    def lease_shipments(self, return_ids: Sequence[UUID], *, until: datetime) -> None:
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

    def shipments(self, return_ids: Sequence[UUID]) -> dict[UUID, Parcel]:
        if not return_ids:
            return {}
        stmt = select(
            ShipmentRow.return_id, ShipmentRow.tracking_number, ShipmentRow.expires_at, ShipmentRow.carrier_status
        ).where(ShipmentRow.return_id.in_(list(return_ids)))
        return {
            return_id: Parcel(number, expires, status)
            for return_id, number, expires, status in self._session.execute(stmt)
        }

    def update_shipment(
        self, return_id: UUID, *, state: str, next_poll_at: datetime | None, event_at: datetime | None
    ) -> None:
        values: dict[str, object] = {
            "carrier_status": state,
            "next_poll_at": next_poll_at,
            "polls": ShipmentRow.polls + 1,
        }
        if event_at is not None:
            values["last_event_at"] = event_at
        self._update_one(
            ShipmentRow, ShipmentRow.return_id == return_id, f"no shipment for return {return_id}", **values
        )

    # --- inspections ------------------------------------------------------------------------------

    def open_inspection(self, return_id: UUID, *, due_at: datetime, auto_inspect_at: datetime | None) -> None:
        values = {"return_id": return_id, "due_at": due_at, "auto_inspect_at": auto_inspect_at}
        insert_or_ignore(self._session, InspectionRow, values)

    def inspection(self, return_id: UUID) -> InspectionRecord | None:
        row = self._session.get(InspectionRow, return_id)
        if row is None:
            return None
        return InspectionRecord(
            return_id=row.return_id,
            due_at=row.due_at,
            inspected_at=row.inspected_at,
            grade=Grade(row.grade) if row.grade else None,
            escalated_at=row.escalated_at,
        )

    def record_inspection(
        self, return_id: UUID, *, grade: Grade, disposition: str, inspector: str, at: datetime
    ) -> None:
        self._update_one(
            InspectionRow,
            InspectionRow.return_id == return_id,
            f"no inspection opened for return {return_id}",
            grade=grade.value,
            disposition=disposition,
            inspector=inspector,
            inspected_at=at,
        )

    def inspections_for_auto(self, *, now: datetime, limit: int) -> Sequence[UUID]:
        stmt = (
            select(InspectionRow.return_id)
            .where(InspectionRow.inspected_at.is_(None), InspectionRow.auto_inspect_at <= now)
            .order_by(InspectionRow.auto_inspect_at)
            .limit(limit)
        )
        return list(self._session.scalars(stmt))

    def lease_auto_inspections(self, return_ids: Sequence[UUID], *, until: datetime) -> None:
        if return_ids:
            self._session.execute(
                update(InspectionRow)
                .where(InspectionRow.return_id.in_(return_ids), InspectionRow.inspected_at.is_(None))
                .values(auto_inspect_at=until)
            )

    def overdue_inspections(self, *, now: datetime, limit: int) -> Sequence[UUID]:
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

    def escalate_inspections(self, return_ids: Sequence[UUID], *, at: datetime) -> None:
        if return_ids:
            self._session.execute(
                update(InspectionRow)
                .where(InspectionRow.return_id.in_(return_ids), InspectionRow.escalated_at.is_(None))
                .values(escalated_at=at)
            )

    # --- refunds ----------------------------------------------------------------------------------

    def create_refund(
        self, ret: ReturnAuthorization, *, idempotency_key: str, amount: int, lines: dict[str, int], at: datetime
    ) -> None:
        values = {
            "return_id": ret.id,
            "channel": ret.channel,
            "order_id": ret.request.order_id,
            "idempotency_key": idempotency_key,
            "amount": amount,
            "currency": ret.request.currency,
            "lines": lines,
            "status": RefundStatus.PENDING.value,
            "created_at": at,
        }
        insert_or_ignore(self._session, RefundRow, values)

    def refunds(self, return_id: UUID) -> Sequence[RefundRecord]:
        self._session.flush()
        stmt = select(RefundRow).where(RefundRow.return_id == return_id).order_by(RefundRow.id)
        return [
            RefundRecord(
                id=row.id,
                return_id=row.return_id,
                idempotency_key=row.idempotency_key,
                amount=row.amount,
                currency=row.currency,
                lines={k: int(v) for k, v in row.lines.items()},
                status=RefundStatus(row.status),
                gateway_refund_id=row.gateway_refund_id,
            )
            for row in self._session.scalars(stmt)
        ]

    def _update_refund(self, idempotency_key: str, **values: object) -> None:
        self._update_one(
            RefundRow, RefundRow.idempotency_key == idempotency_key, f"no refund with key {idempotency_key}", **values
        )

    def settle_refund(self, idempotency_key: str, *, gateway_refund_id: str, at: datetime) -> None:
        self._update_refund(
            idempotency_key, status=RefundStatus.SUCCEEDED.value, gateway_refund_id=gateway_refund_id, settled_at=at
        )

    def fail_refund(self, idempotency_key: str, *, cause: str, at: datetime) -> None:
        self._update_refund(idempotency_key, status=RefundStatus.FAILED.value, failure=cause[:500], settled_at=at)

    # --- notifications ----------------------------------------------------------------------------

    def pending_notifications(self, return_id: UUID) -> Sequence[int]:
        stmt = (
            select(NotificationRow.id)
            .where(NotificationRow.return_id == return_id, NotificationRow.sent_at.is_(None))
            .order_by(NotificationRow.seq)
        )
        return list(self._session.scalars(stmt))

    def notifications_to_dispatch(self, *, now: datetime, limit: int) -> Sequence[tuple[int, UUID]]:
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

    def lease_notifications(self, notification_ids: Sequence[int], *, until: datetime) -> None:
        if notification_ids:
            self._session.execute(
                update(NotificationRow).where(NotificationRow.id.in_(notification_ids)).values(leased_until=until)
            )

    def outgoing_notifications(self, notification_ids: Sequence[int]) -> Sequence[OutgoingNotification]:
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

    def mark_notified(self, sent: Sequence[tuple[int, str]], *, at: datetime) -> None:
        if not sent:
            return
        table = table_of(NotificationRow)
        self._session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("nid"))
            .values(sent_at=at, provider_message_id=bindparam("provider_id"), leased_until=None),
            [{"nid": nid, "provider_id": provider_id} for nid, provider_id in sent],
        )

    # --- dead letters -----------------------------------------------------------------------------

    def add_dead_letter(self, letter: DeadLetter, *, at: datetime) -> int:
        row = DeadLetterRow(
            created_at=at,
            queue=letter.queue,
            task_name=letter.task_name,
            task_id=letter.task_id,
            return_id=letter.return_id,
            kwargs=letter.kwargs,
            content_type=letter.content_type,
            raw_body=letter.raw_body,
            cause=letter.cause,
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    @staticmethod
    def _dead_letter(row: DeadLetterRow) -> DeadLetterRecord:
        return DeadLetterRecord(
            id=row.id,
            created_at=row.created_at,
            replayed_at=row.replayed_at,
            letter=DeadLetter(
                cause=row.cause,
                queue=row.queue,
                task_name=row.task_name,
                task_id=row.task_id,
                return_id=row.return_id,
                kwargs=row.kwargs,
                content_type=row.content_type,
                raw_body=row.raw_body,
            ),
        )

    def dead_letters(self, *, limit: int, include_replayed: bool) -> Sequence[DeadLetterRecord]:
        stmt = select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
        if not include_replayed:
            stmt = stmt.where(DeadLetterRow.replayed_at.is_(None))
        return [self._dead_letter(row) for row in self._session.scalars(stmt)]

    def dead_letter(self, letter_id: int) -> DeadLetterRecord | None:
        row = self._session.get(DeadLetterRow, letter_id)
        return None if row is None else self._dead_letter(row)

    def mark_replayed(self, letter_id: int, *, at: datetime) -> None:
        self._session.execute(update(DeadLetterRow).where(DeadLetterRow.id == letter_id).values(replayed_at=at))


def delete_outbox_rows(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))
