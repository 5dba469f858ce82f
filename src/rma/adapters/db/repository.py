"""The SQLAlchemy return repository: loads aggregates, saves their changes under an optimistic version check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import psycopg
from sqlalchemy import String, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from rma.adapters.db.mapping import new_entries, new_row, new_rows, to_domain, update_row
from rma.adapters.db.tables import NotificationRow, RefundRow, ReturnLineRow, ReturnRow, TimelineRow, table_of
from rma.adapters.db.upsert import copy_rows, insert_or_ignore
from rma.domain.errors import ConcurrentUpdateError, DomainError, DuplicateRequestError
from rma.domain.lifecycle import Status, TimelineEntry
from rma.domain.notifications import CUSTOMER_EVENTS
from rma.domain.policy.evaluate import OrderHistory
from rma.domain.returns import ReturnAuthorization
from rma.services.ports import RefundStatus

UPSTREAM_KEY = "uq_returns_channel_upstream"  # one return per (channel, upstream request id)

# Units on lines in these statuses are free to be claimed again by a later return of the same order line.
_RELEASED = (Status.REJECTED.value, Status.CANCELLED.value, Status.EXPIRED.value)


class SqlAlchemyReturnRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._rows: dict[UUID, ReturnRow] = {}

    def _load(self, row: ReturnRow | None) -> ReturnAuthorization | None:
        return None if row is None else self._load_row(row)

    def add(self, ret: ReturnAuthorization) -> None:
        row = new_row(ret)
        self._session.add(row)
        self._rows[ret.id] = row
        self._queue_notifications(ret, ret.timeline)

    def add_many(self, rets: Sequence[ReturnAuthorization]) -> None:
        """Insert new returns in three bulk statements (the batch intake's path). They are not tracked for `save`,
        and none may be in a customer-visible status yet (no notifications are queued here). A request already stored
        (a concurrent submission won the race) raises DuplicateRequestError."""
        if not rets:
            return
        if any(ret.status in CUSTOMER_EVENTS for ret in rets):
            raise DomainError("add_many takes new returns only (status requested)")
        rows = [new_rows(ret) for ret in rets]
        tables = (
            (table_of(ReturnRow), [ret for ret, _, _ in rows]),
            (table_of(ReturnLineRow), [line for _, lines, _ in rows for line in lines]),
            (table_of(TimelineRow), [entry for _, _, timeline in rows for entry in timeline]),
        )
        connection = self._session.connection()
        if connection.dialect.name == "postgresql":
            try:
                for table, values in tables:
                    copy_rows(connection, table, values)
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name == UPSTREAM_KEY:
                    raise DuplicateRequestError(str(exc)) from exc
                raise
            return
        # Core executemany on the tables: none of the ORM's per-row bookkeeping.
        for table, values in tables:
            connection.execute(insert(table), values)

    def ids_by_upstream(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
        """Existing returns for (channel, upstream request id) keys, in one query per channel."""
        by_channel: dict[str, list[str]] = {}
        for channel, upstream in keys:
            by_channel.setdefault(channel, []).append(upstream)
        found: dict[tuple[str, str], UUID] = {}
        postgres = self._session.get_bind().dialect.name == "postgresql"
        for channel, upstream_ids in by_channel.items():
            # PostgreSQL: one array parameter, not a statement with a placeholder per id to parse every time.
            wanted = (
                ReturnRow.upstream_request_id == any_(bindparam("ids", upstream_ids, type_=ARRAY(String)))
                if postgres
                else ReturnRow.upstream_request_id.in_(upstream_ids)
            )
            stmt = select(ReturnRow.upstream_request_id, ReturnRow.id).where(ReturnRow.channel == channel, wanted)
            found.update({(channel, upstream): rid for upstream, rid in self._session.execute(stmt)})
        return found

    def save(self, ret: ReturnAuthorization) -> None:
        row = self._rows.get(ret.id)
        if row is None:
            raise DomainError(f"return {ret.id} was not loaded through this unit of work")
        entries = new_entries(row, ret)
        update_row(row, ret)
        self._queue_notifications(ret, entries)

    def _queue_notifications(self, ret: ReturnAuthorization, entries: Sequence[TimelineEntry]) -> None:
        """The customer hears of every visible status change: queued in the same transaction as the change.

        One message per (return, event): a status reached twice (a parcel back in transit) is announced once."""
        values = [
            {
                "return_id": ret.id,
                "event": entry.to_status.value,
                "seq": entry.seq,
                "created_at": datetime.now(UTC),
            }
            for entry in entries
            if entry.line_id is None and entry.to_status in CUSTOMER_EVENTS
        ]
        if not values:
            return
        try:
            self._session.flush()  # the return row must exist before its notifications (foreign key)
        except StaleDataError as exc:
            raise ConcurrentUpdateError(f"return {ret.id} was changed by another writer since it was loaded") from exc
        insert_or_ignore(self._session, NotificationRow, values)

    def get(self, return_id: UUID) -> ReturnAuthorization | None:
        return self._load(self._session.get(ReturnRow, return_id))

    def get_many(self, return_ids: Sequence[UUID]) -> dict[UUID, ReturnAuthorization]:
        if not return_ids:
            return {}
        # Lines and timeline load "selectin": three queries for the whole batch.
        rows = self._session.scalars(select(ReturnRow).where(ReturnRow.id.in_(list(return_ids))))
        return {row.id: self._load_row(row) for row in rows}

    def _load_row(self, row: ReturnRow) -> ReturnAuthorization:
        self._rows[row.id] = row
        return to_domain(row)

    def get_by_rma_number(self, rma_number: str) -> ReturnAuthorization | None:
        return self._load(self._session.scalar(select(ReturnRow).where(ReturnRow.rma_number == rma_number)))

    def get_by_upstream(self, channel: str, upstream_request_id: str) -> ReturnAuthorization | None:
        stmt = select(ReturnRow).where(
            ReturnRow.channel == channel, ReturnRow.upstream_request_id == upstream_request_id
        )
        return self._load(self._session.scalar(stmt))

    def list_by_order(self, channel: str, order_id: str) -> Sequence[ReturnAuthorization]:
        stmt = (
            select(ReturnRow)
            .where(ReturnRow.channel == channel, ReturnRow.order_id == order_id)
            .order_by(ReturnRow.created_at, ReturnRow.id)
        )
        return [ret for row in self._session.scalars(stmt) if (ret := self._load(row)) is not None]

    def order_history(self, channel: str, order_id: str, *, excluding: UUID | None = None) -> OrderHistory:
        # A batch deciding two returns of one order must see the first's changes when it decides the second.
        self._session.flush()
        key = (channel, order_id)
        return self._histories([key], excluding=[] if excluding is None else [excluding])[key]

    def order_histories(self, rets: Sequence[ReturnAuthorization]) -> dict[UUID, OrderHistory]:
        # Only orders with one return in the batch: that return's own changes are excluded from its history anyway,
        # so no change the batch makes can alter it (the others go through `order_history`, which flushes first).
        by_order: dict[tuple[str, str], list[UUID]] = {}
        for ret in rets:
            by_order.setdefault((ret.channel, ret.request.order_id), []).append(ret.id)
        single = {key: ids[0] for key, ids in by_order.items() if len(ids) == 1}
        if not single:
            return {}
        self._session.flush()
        found = self._histories(list(single), excluding=[ret.id for ret in rets])
        return {return_id: found[key] for key, return_id in single.items()}

    def _histories(
        self, keys: Sequence[tuple[str, str]], *, excluding: Sequence[UUID]
    ) -> dict[tuple[str, str], OrderHistory]:
        """What the other returns of each (channel, order) claimed (lines not released) and were refunded (refunds
        not failed), leaving out the returns `excluding`: two queries for any number of orders."""
        channels, order_ids = sorted({c for c, _ in keys}), sorted({o for _, o in keys})
        claimed: dict[tuple[str, str], dict[str, int]] = {key: {} for key in keys}
        lines = (
            select(ReturnRow.channel, ReturnRow.order_id, ReturnLineRow.order_line_id, func.sum(ReturnLineRow.quantity))
            .join(ReturnRow, ReturnLineRow.return_id == ReturnRow.id)
            .where(
                ReturnRow.channel.in_(channels),
                ReturnRow.order_id.in_(order_ids),
                ReturnLineRow.status.not_in(_RELEASED),
            )
            .group_by(ReturnRow.channel, ReturnRow.order_id, ReturnLineRow.order_line_id)
        )
        refunds = select(RefundRow.channel, RefundRow.order_id, RefundRow.lines).where(
            RefundRow.channel.in_(channels),
            RefundRow.order_id.in_(order_ids),
            RefundRow.status != RefundStatus.FAILED.value,
        )
        if excluding:
            lines = lines.where(ReturnRow.id.not_in(excluding))
            refunds = refunds.where(RefundRow.return_id.not_in(excluding))
        for channel, order_id, line_id, total in self._session.execute(lines):
            if (channel, order_id) in claimed:  # the IN lists also match other pairings of the channels and orders
                claimed[channel, order_id][line_id] = int(total)
        refunded: dict[tuple[str, str], dict[str, int]] = {key: {} for key in keys}
        for channel, order_id, refund_lines in self._session.execute(refunds):
            if (channel, order_id) in refunded:
                sums = refunded[channel, order_id]
                for line_id, amount in refund_lines.items():
                    sums[line_id] = sums.get(line_id, 0) + int(amount)
        return {
            key: OrderHistory(
                claimed_quantity=claimed[key],
                refunded_by_line=refunded[key],
                refunded_total=sum(refunded[key].values()),
            )
            for key in keys
        }

    def ids_due(self, status: Status, *, now: datetime, limit: int) -> Sequence[UUID]:
        stmt = (
            select(ReturnRow.id)
            .where(ReturnRow.status == status.value, ReturnRow.status_due_at <= now)
            .order_by(ReturnRow.status_due_at)
            .limit(limit)
        )
        return list(self._session.scalars(stmt))

    def list_by_status(self, status: Status, *, limit: int) -> Sequence[ReturnAuthorization]:
        stmt = select(ReturnRow).where(ReturnRow.status == status.value).order_by(ReturnRow.updated_at).limit(limit)
        return [ret for row in self._session.scalars(stmt) if (ret := self._load(row)) is not None]

    def postpone(self, return_ids: Sequence[UUID], *, until: datetime) -> None:
        # Not a domain change (no version bump): only the reconciler's bookkeeping of when to look again.
        if return_ids:
            self._session.execute(
                update(ReturnRow)
                .where(ReturnRow.id.in_(return_ids))
                .values(status_due_at=until, redrive_count=ReturnRow.redrive_count + 1)
                .execution_options(synchronize_session=False)
            )

    def redrive_counts(self, return_ids: Sequence[UUID]) -> dict[UUID, int]:
        if not return_ids:
            return {}
        stmt = select(ReturnRow.id, ReturnRow.redrive_count).where(ReturnRow.id.in_(return_ids))
        return {rid: int(count) for rid, count in self._session.execute(stmt)}

    def count_by_status(self) -> dict[Status, int]:
        stmt = select(ReturnRow.status, func.count()).group_by(ReturnRow.status)
        return {Status(status): int(count) for status, count in self._session.execute(stmt)}
