"""The audit: checks the invariants of the returns platform over our records and the providers' own records.

Each check counts violations; a sound system reports all zeros. It reads only, so it can run against production.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from rma.adapters.db.tables import (
    DeadLetterRow,
    LabelRow,
    NotificationRow,
    OutboxRow,
    RefundRow,
    ReturnRow,
    ShipmentRow,
    TimelineRow,
)
from rma.adapters.sandbox.ledger import sandbox_labels
from rma.adapters.sandbox.tables import SandboxMessageRow, SandboxRefundRow
from rma.domain.lifecycle import Status, is_allowed
from rma.ports.providers import BoughtLabel
from rma.ports.stores import RefundStatus

FINAL = (Status.CLOSED.value,)
OUTBOX_GRACE = timedelta(seconds=60)


@dataclass
class AuditReport:
    returns: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    violations: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    needs_attention: int = 0
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # checks whose provider records could not be read

    def violate(self, name: str, example: str) -> None:
        self.violations[name] = self.violations.get(name, 0) + 1
        shown = self.examples.setdefault(name, [])
        if len(shown) < 5:
            shown.append(example)

    @property
    def sound(self) -> bool:
        return not any(self.violations.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "sound": self.sound,
            "returns": self.returns,
            "by_status": self.by_status,
            "violations": self.violations,
            "examples": self.examples,
            "needs_attention": self.needs_attention,
            "dead_letters": self.dead_letters,
            "unchecked": self.unchecked,
        }


CHECKS = (
    "stuck_returns",
    "invalid_timelines",
    "duplicate_labels",
    "labels_missing_at_carrier",
    "voided_shipped_labels",
    "unused_labels_not_voided",
    "carrier_rate_exceeded",
    "duplicate_refunds",
    "refunds_missing_at_gateway",
    "over_refunded_lines",
    "over_refunded_orders",
    "duplicate_messages",
    "stale_messages",
    "unannounced_changes",
    "stale_outbox_rows",
)


def finished_returns(conn: Connection | Session) -> int:
    """Returns that are closed and whose customer has been told everything (no message left unsent): what a load
    run waits for. Customer messages go out in batches a moment after the status change that wrote them."""
    unsent = (
        select(NotificationRow.id)
        .where(NotificationRow.return_id == ReturnRow.id, NotificationRow.sent_at.is_(None))
        .exists()
    )
    stmt = select(func.count()).select_from(ReturnRow).where(ReturnRow.status == Status.CLOSED.value, ~unsent)
    return int(conn.scalar(stmt) or 0)


@dataclass(frozen=True, slots=True)
class CarrierRecords:
    """What the carrier account's own records say, with its request limit and its busiest second (as the provider
    counts requests: per clock second)."""

    labels: Sequence[BoughtLabel]
    peak_requests_per_second: int | None = None
    rate_limit: float = 0  # 0: none configured
    readable: bool = True  # False: the account's records cannot be read from here (a real account): not checked


CARRIER_CHECKS = ("duplicate_labels", "labels_missing_at_carrier", "carrier_rate_exceeded")


def run_audit(
    session: Session,
    *,
    now: datetime,
    real_now: datetime,
    announced: Collection[Status] = (),
    carrier: CarrierRecords | None = None,
) -> AuditReport:
    """`announced`: the statuses the customer hears of (the flow's); each change to one must have its message row.
    `carrier`: the carrier's records (default: the sandbox carrier's tables)."""
    report = AuditReport(violations=dict.fromkeys(CHECKS, 0))
    report.by_status = {
        s: int(n) for s, n in session.execute(select(ReturnRow.status, func.count()).group_by(ReturnRow.status))
    }
    report.returns = sum(report.by_status.values())
    report.needs_attention = report.by_status.get(Status.NEEDS_ATTENTION.value, 0)
    _stuck(session, report, now)
    _timelines(session, report)
    _labels(session, report, carrier or _sandbox_records(session))
    _voids(session, report)
    _refunds(session, report)
    _messages(session, report, real_now)
    _announcements(session, report, announced)
    stale = session.scalar(select(func.count()).where(OutboxRow.created_at <= real_now - OUTBOX_GRACE)) or 0
    report.violations["stale_outbox_rows"] = int(stale)
    report.dead_letters = [
        {"id": row.id, "task": row.task_name, "queue": row.queue, "cause": row.cause[:200]}
        for row in session.scalars(
            select(DeadLetterRow).where(DeadLetterRow.replayed_at.is_(None)).order_by(DeadLetterRow.id).limit(50)
        )
    ]
    return report


def _stuck(session: Session, report: AuditReport, now: datetime) -> None:
    """Not closed and not legitimately waiting (a deadline still ahead); parked returns are reported apart."""
    stmt = select(ReturnRow.id, ReturnRow.status, ReturnRow.status_due_at).where(
        ReturnRow.status.not_in([*FINAL, Status.NEEDS_ATTENTION.value])
    )
    for return_id, status, due_at in session.execute(stmt):
        if due_at is None or due_at <= now:
            report.violate("stuck_returns", f"{return_id} in {status} since its deadline {due_at}")


def _timelines(session: Session, report: AuditReport) -> None:
    current = dict(session.execute(select(ReturnRow.id, ReturnRow.status)).all())
    previous: dict[Any, str | None] = {}
    stmt = (
        select(TimelineRow.return_id, TimelineRow.seq, TimelineRow.from_status, TimelineRow.to_status)
        .where(TimelineRow.line_id.is_(None))
        .order_by(TimelineRow.return_id, TimelineRow.seq)
    )
    broken: set[Any] = set()
    for return_id, seq, from_status, to_status in session.execute(stmt):
        before = previous.get(return_id)
        ok = (
            (from_status is None and seq == 1)
            if return_id not in previous
            else (
                from_status is not None and from_status == before and is_allowed(Status(from_status), Status(to_status))
            )
        )
        if not ok and return_id not in broken:
            broken.add(return_id)
            report.violate("invalid_timelines", f"{return_id}: {from_status} -> {to_status} at seq {seq}")
        previous[return_id] = to_status
    for return_id, last in previous.items():
        if current.get(return_id) != last and return_id not in broken:
            report.violate(
                "invalid_timelines", f"{return_id}: timeline ends in {last}, status is {current.get(return_id)}"
            )


def _sandbox_records(session: Session) -> CarrierRecords:
    return CarrierRecords(sandbox_labels(session))


def _labels(session: Session, report: AuditReport, carrier: CarrierRecords) -> None:
    if not carrier.readable:
        report.unchecked.extend(CARRIER_CHECKS)
        return
    per_return: dict[str, int] = defaultdict(int)
    for label in carrier.labels:
        per_return[label.reference] += 1
    for rma_number, count in per_return.items():
        if count > 1:
            report.violate("duplicate_labels", f"{rma_number}: {count} labels at the carrier")
    at_carrier = {label.tracking_number for label in carrier.labels}
    for return_id, tracking in session.execute(
        select(LabelRow.return_id, LabelRow.tracking_number).where(LabelRow.tracking_number.is_not(None))
    ):
        if tracking not in at_carrier:
            report.violate("labels_missing_at_carrier", f"{return_id}: {tracking}")
    refunded = {label.tracking_number for label in carrier.labels if label.refunded}
    shipped = session.execute(
        select(ShipmentRow.return_id, ShipmentRow.tracking_number).where(ShipmentRow.shipped_at.is_not(None))
    )
    for return_id, tracking in shipped:
        if tracking in refunded:
            report.violate("voided_shipped_labels", f"{return_id}: {tracking} refunded at the carrier, yet scanned")
    peak, limit = carrier.peak_requests_per_second, carrier.rate_limit
    if peak is not None and limit > 0 and peak > limit:
        report.violate("carrier_rate_exceeded", f"{peak} requests in one second, above the limit of {limit:g}")


def _voids(session: Session, report: AuditReport) -> None:
    """A closed return that expired or was cancelled with a label bought and never scanned: its label was voided."""
    went_unused = (
        select(TimelineRow.return_id)
        .where(
            TimelineRow.return_id == LabelRow.return_id,
            TimelineRow.to_status.in_([Status.EXPIRED.value, Status.CANCELLED.value]),
            TimelineRow.line_id.is_(None),
        )
        .exists()
    )
    stmt = (
        select(LabelRow.return_id, LabelRow.tracking_number)
        .join(ReturnRow, ReturnRow.id == LabelRow.return_id)
        .outerjoin(ShipmentRow, ShipmentRow.return_id == LabelRow.return_id)
        .where(
            ReturnRow.status == Status.CLOSED.value,
            LabelRow.tracking_number.is_not(None),
            LabelRow.void_status.is_(None),
            ShipmentRow.shipped_at.is_(None),
            went_unused,
        )
    )
    for return_id, tracking in session.execute(stmt):
        report.violate("unused_labels_not_voided", f"{return_id}: label {tracking} never used nor voided")
    # Our own record of a void granted for a parcel that was scanned.
    for return_id, tracking in session.execute(
        select(LabelRow.return_id, LabelRow.tracking_number)
        .join(ShipmentRow, ShipmentRow.return_id == LabelRow.return_id)
        .where(LabelRow.void_status.in_(["refunded", "submitted"]), ShipmentRow.shipped_at.is_not(None))
    ):
        report.violate("voided_shipped_labels", f"{return_id}: {tracking} voided by us, yet scanned")


def _refunds(session: Session, report: AuditReport) -> None:
    decisions = {
        key: (rid, status)
        for key, rid, status in session.execute(
            select(RefundRow.idempotency_key, RefundRow.return_id, RefundRow.status)
        )
    }
    paid_by_return: dict[str, int] = defaultdict(int)
    gateway_by_order: dict[str, int] = defaultdict(int)
    at_gateway: set[str] = set()
    for key, reference, amount in session.execute(
        select(SandboxRefundRow.idempotency_key, SandboxRefundRow.payment_reference, SandboxRefundRow.amount)
    ):
        decision = decisions.get(key)
        # A gateway refund we have no decision for is attributed by its key's return part (rf-<return>-<n>).
        paid_by_return[decision[0].hex if decision else key.split("-")[1]] += 1
        gateway_by_order[reference] += amount
        at_gateway.add(key)
    succeeded_by_return: dict[str, int] = defaultdict(int)
    for key, (return_id, status) in decisions.items():
        if status == RefundStatus.SUCCEEDED:
            succeeded_by_return[return_id.hex] += 1
            if key not in at_gateway:  # from the rows read above: no query per refund
                report.violate("refunds_missing_at_gateway", f"{return_id}: {key}")
    for return_ref, paid in paid_by_return.items():
        if paid > max(1, succeeded_by_return.get(return_ref, 0)):
            report.violate("duplicate_refunds", f"{return_ref}: {paid} gateway refunds")
    _over_refunds(session, report, gateway_by_order)


def _over_refunds(session: Session, report: AuditReport, gateway_by_order: dict[str, int]) -> None:
    captured: dict[str, int] = {}
    line_paid: dict[tuple[str, str], int] = {}
    for channel, order_id, amount, request in session.execute(
        select(ReturnRow.channel, ReturnRow.order_id, ReturnRow.amount_captured, ReturnRow.request)
    ):
        order = f"{channel}:{order_id}"
        captured[order] = max(captured.get(order, 0), int(amount))
        for line in request["lines"]:
            value = int(line["unit_price"]) * int(line["quantity_delivered"]) + int(line["tax"])
            # Shipping may be refunded on top for seller-fault lines: the order's shipping bounds it.
            line_paid[(order, line["order_line_id"])] = value + int(request.get("shipping_paid", 0))
    refunded_lines: dict[tuple[str, str], int] = defaultdict(int)
    refunded_orders: dict[str, int] = defaultdict(int)
    for channel, order_id, amount, lines in session.execute(
        select(RefundRow.channel, RefundRow.order_id, RefundRow.amount, RefundRow.lines).where(
            RefundRow.status == RefundStatus.SUCCEEDED.value
        )
    ):
        order = f"{channel}:{order_id}"
        refunded_orders[order] += int(amount)
        for line_id, part in lines.items():
            refunded_lines[(order, line_id)] += int(part)
    for key, total in refunded_lines.items():
        if total > line_paid.get(key, 0):
            report.violate("over_refunded_lines", f"{key[0]} line {key[1]}: {total} > {line_paid.get(key, 0)}")
    for order in refunded_orders.keys() | gateway_by_order.keys():
        biggest = max(refunded_orders.get(order, 0), gateway_by_order.get(order, 0))
        if biggest > captured.get(order, 0):
            report.violate("over_refunded_orders", f"{order}: {biggest} > captured {captured.get(order, 0)}")


def _messages(session: Session, report: AuditReport, real_now: datetime) -> None:
    """One message per (return, event) at the notifier, and none left unsent longer than the outbox's grace."""
    for return_id, event, count in session.execute(
        select(SandboxMessageRow.return_id, SandboxMessageRow.event, func.count())
        .group_by(SandboxMessageRow.return_id, SandboxMessageRow.event)
        .having(func.count() > 1)
    ):
        report.violate("duplicate_messages", f"{return_id}: {count} x {event}")
    sent = session.scalar(select(func.count()).where(NotificationRow.sent_at.is_not(None))) or 0
    delivered = session.scalar(select(func.count()).select_from(SandboxMessageRow)) or 0
    if delivered > sent:
        report.violate("duplicate_messages", f"{delivered} messages delivered for {sent} notifications sent")
    for unsent_return, unsent_event in session.execute(
        select(NotificationRow.return_id, NotificationRow.event).where(
            NotificationRow.sent_at.is_(None), NotificationRow.created_at <= real_now - OUTBOX_GRACE
        )
    ):
        report.violate("stale_messages", f"{unsent_return}: {unsent_event} not sent")


def _announcements(session: Session, report: AuditReport, announced: Collection[Status]) -> None:
    """Every change of a return to a status the customer hears of has its message (written in the change's own
    transaction, at commit: a change without one was committed without its follow-ups)."""
    if not announced:
        return
    written = {(rid, event) for rid, event in session.execute(select(NotificationRow.return_id, NotificationRow.event))}
    changes = (
        select(TimelineRow.return_id, TimelineRow.to_status)
        .where(TimelineRow.line_id.is_(None), TimelineRow.to_status.in_([status.value for status in announced]))
        .distinct()
    )
    for return_id, status in session.execute(changes):
        if (return_id, status) not in written:
            report.violate("unannounced_changes", f"{return_id}: became {status} and was never told")
