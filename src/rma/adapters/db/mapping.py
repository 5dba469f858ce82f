"""Translate between table rows and domain objects. The only module that knows both shapes."""

from __future__ import annotations

from typing import Any

from rma.adapters.db.tables import ReturnLineRow, ReturnRow, TimelineRow
from rma.domain.lifecycle import Actor, Status, TimelineEntry
from rma.domain.policy.evaluate import Decision
from rma.domain.requests import STORED, ReturnRequest
from rma.domain.returns import ReturnAuthorization, ReturnLine


def to_domain(row: ReturnRow) -> ReturnAuthorization:
    return ReturnAuthorization(
        id=row.id,
        request=ReturnRequest.model_validate(row.request, context=STORED),  # as accepted when it was stored
        status=Status(row.status),
        rma_number=row.rma_number,
        decision=Decision.model_validate(row.decision) if row.decision is not None else None,
        lines=[
            ReturnLine(
                order_line_id=line.order_line_id,
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                status=Status(line.status),
            )
            for line in row.lines
        ],
        timeline=[
            TimelineEntry(
                seq=entry.seq,
                from_status=Status(entry.from_status) if entry.from_status is not None else None,
                to_status=Status(entry.to_status),
                at=entry.at,
                actor=Actor(entry.actor),
                cause=entry.cause,
                line_id=entry.line_id,
            )
            for entry in row.timeline
        ],
        attention_cause=row.attention_cause,
        due_at=row.status_due_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def _timeline_row(ret: ReturnAuthorization, entry: TimelineEntry) -> TimelineRow:
    return TimelineRow(
        return_id=ret.id,
        seq=entry.seq,
        from_status=entry.from_status.value if entry.from_status is not None else None,
        to_status=entry.to_status.value,
        at=entry.at,
        actor=entry.actor.value,
        cause=entry.cause,
        line_id=entry.line_id,
    )


def new_row(ret: ReturnAuthorization) -> ReturnRow:
    row = ReturnRow(
        id=ret.id,
        channel=ret.channel,
        upstream_request_id=ret.upstream_request_id,
        order_id=ret.request.order_id,
        customer_id=ret.request.customer_id,
        currency=ret.request.currency,
        amount_captured=ret.request.amount_captured,
        request=ret.request.model_dump(mode="json"),
        created_at=ret.created_at,
        redrive_count=0,
        lines=[
            ReturnLineRow(
                position=position,
                order_line_id=line.order_line_id,
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                status=line.status.value,
            )
            for position, line in enumerate(ret.lines)
        ],
    )
    update_row(row, ret)
    return row


def update_row(row: ReturnRow, ret: ReturnAuthorization) -> None:
    """Copy what may change (status, decision, lines' status, new timeline entries) onto `row`."""
    row.status = ret.status.value
    row.rma_number = ret.rma_number
    row.attention_cause = ret.attention_cause
    row.status_due_at = ret.due_at
    if (row.decision is None) != (ret.decision is None):
        # A decision is recorded once (`apply_decision` runs only on a requested return): serialised then, not again
        # at every later save of the return.
        row.policy_version = ret.decision.policy_version if ret.decision is not None else None
        row.decision = ret.decision.model_dump(mode="json") if ret.decision is not None else None
    row.updated_at = ret.updated_at
    for line_row, line in zip(row.lines, ret.lines, strict=True):
        line_row.status = line.status.value
    stored = len(row.timeline)
    if len(ret.timeline) < stored:
        raise ValueError(f"return {ret.id}: the timeline is append-only and cannot shrink")
    if len(ret.timeline) > stored:
        row.redrive_count = 0  # a new status starts with a clean re-drive count
    row.timeline.extend(_timeline_row(ret, entry) for entry in ret.timeline[stored:])


def new_entries(row: ReturnRow, ret: ReturnAuthorization) -> list[TimelineEntry]:
    """Timeline entries of `ret` not yet on `row` (call before `update_row`)."""
    return ret.timeline[len(row.timeline) :]


def new_rows(ret: ReturnAuthorization) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Plain values for a bulk insert of a new return: (return, its lines, its timeline). No ORM objects: fast."""
    ret_values = {
        "id": ret.id,
        "channel": ret.channel,
        "upstream_request_id": ret.upstream_request_id,
        "order_id": ret.request.order_id,
        "customer_id": ret.request.customer_id,
        "currency": ret.request.currency,
        "amount_captured": ret.request.amount_captured,
        "request": ret.request.model_dump(mode="json"),
        "created_at": ret.created_at,
        "updated_at": ret.updated_at,
        "status": ret.status.value,
        "status_due_at": ret.due_at,
        "rma_number": ret.rma_number,
        "attention_cause": ret.attention_cause,
        "policy_version": None,
        "decision": None,
        "redrive_count": 0,
        "version": 1,
    }
    lines = [
        {
            "return_id": ret.id,
            "position": position,
            "order_line_id": line.order_line_id,
            "sku": line.sku,
            "category": line.category,
            "quantity": line.quantity,
            "status": line.status.value,
        }
        for position, line in enumerate(ret.lines)
    ]
    timeline = [
        {
            "return_id": ret.id,
            "seq": entry.seq,
            "from_status": entry.from_status.value if entry.from_status is not None else None,
            "to_status": entry.to_status.value,
            "at": entry.at,
            "actor": entry.actor.value,
            "cause": entry.cause,
            "line_id": entry.line_id,
        }
        for entry in ret.timeline
    ]
    return ret_values, lines, timeline
