"""The SQLAlchemy return repository: loads aggregates, saves their changes under an optimistic version check, and
keeps the changes of its unit of work for the flow to follow up at commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from sqlalchemy import Connection, String, Table, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rma.adapters.db.mapping import new_entries, new_row, new_rows, to_domain, update_row
from rma.adapters.db.tables import RefundRow, ReturnLineRow, ReturnRow, TimelineRow, table_of
from rma.adapters.db.upsert import copy_rows
from rma.domain.errors import DomainError, DuplicateRequestError
from rma.domain.lifecycle import Status, TimelineEntry
from rma.domain.policy.evaluate import OrderHistory
from rma.domain.returns import ReturnAuthorization
from rma.ports.messaging import Change
from rma.ports.stores import RefundStatus

UPSTREAM_KEY = "uq_returns_channel_upstream"  # one return per (channel, upstream request id)
# How the backends name that key in a unique violation: PostgreSQL by the constraint, SQLite by its columns.
UPSTREAM_KEY_HINTS = (UPSTREAM_KEY, "returns.channel, returns.upstream_request_id")

# Units on lines in these statuses are free to be claimed again by a later return of the same order line.
_RELEASED = (Status.REJECTED.value, Status.CANCELLED.value, Status.EXPIRED.value)


def _bulk_insert(connection: Connection, tables: Sequence[tuple[Table, list[dict[str, Any]]]]) -> None:
    """PostgreSQL: COPY; SQLite: Core executemany (none of the ORM's per-row bookkeeping either way). A unique
    violation of the upstream key (a concurrent submission won the race) is a DuplicateRequestError."""
    if connection.dialect.name == "postgresql":
        try:
            for table, values in tables:
                copy_rows(connection, table, values)
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == UPSTREAM_KEY:
                raise DuplicateRequestError(str(exc)) from exc
            raise
        return
    try:
        for table, values in tables:
            connection.execute(insert(table), values)
    except IntegrityError as exc:
        if any(hint in str(exc.orig) for hint in UPSTREAM_KEY_HINTS):
            raise DuplicateRequestError(str(exc.orig)) from exc
        raise


class SqlAlchemyReturnRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._rows: dict[UUID, ReturnRow] = {}
        self._changes: dict[UUID, Change] = {}

    def _load(self, row: ReturnRow | None) -> ReturnAuthorization | None:
        return None if row is None else self._load_row(row)

    def add(self, ret: ReturnAuthorization) -> None:
        row = new_row(ret)
        self._session.add(row)
        self._rows[ret.id] = row
        self._changed(ret, ret.timeline)

    def add_many(self, rets: Sequence[ReturnAuthorization]) -> None:
        """Insert new returns in three bulk statements (the batch intake's path). They are not tracked for `save`.
        A request already stored (a concurrent submission won the race) raises DuplicateRequestError."""
        if not rets:
            return
        if any(ret.version or len(ret.timeline) != 1 for ret in rets):
            raise DomainError("add_many takes new returns only (status requested)")
        for ret in rets:
            self._changed(ret, ret.timeline)
        rows = [new_rows(ret) for ret in rets]
        tables = (
            (table_of(ReturnRow), [ret for ret, _, _ in rows]),
            (table_of(ReturnLineRow), [line for _, lines, _ in rows for line in lines]),
            (table_of(TimelineRow), [entry for _, _, timeline in rows for entry in timeline]),
        )
        _bulk_insert(self._session.connection(), tables)

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
        self._changed(ret, entries)

    def _changed(self, ret: ReturnAuthorization, entries: Sequence[TimelineEntry]) -> None:
        earlier = self._changes.get(ret.id)
        self._changes[ret.id] = Change(ret, [*(earlier.entries if earlier else ()), *entries])

    def changes(self) -> list[Change]:
        """The returns added or saved in this unit of work, with the timeline entries each gained (for the flow)."""
        return list(self._changes.values())

    def forget_changes(self) -> None:
        self._changes.clear()

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
