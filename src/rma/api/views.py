"""Read side of the API: find a return by the reference a person or system holds, and shape what may be shown.

Views are built field by field from the aggregate, never by dumping it: the request inside carries the customer's
contact and address, which no response includes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.tables import ReturnRow
from rma.api.errors import ApiError
from rma.api.schemas import (
    DecisionView,
    LabelView,
    LineView,
    RefundView,
    ReturnDetail,
    ReturnSummary,
    ReviewSummary,
    TimelineView,
)
from rma.domain.errors import InvalidRmaNumberError
from rma.domain.lifecycle import Status
from rma.domain.returns import ReturnAuthorization
from rma.domain.rma_numbers import parse_rma_number
from rma.domain.validation import FieldError
from rma.services.ports import LabelRecord, RefundRecord, UnitOfWork

MAX_ORDER_RETURNS = 500


def status_url(return_id: uuid.UUID) -> str:
    return f"/v1/returns/{return_id}"


def find(uow: UnitOfWork, ref: str) -> ReturnAuthorization:
    """`ref` is the internal UUID or an RMA number as a person typed it; 422 if it is neither, 404 if unknown."""
    try:
        return_id = uuid.UUID(ref)
    except ValueError:
        try:
            rma_number = parse_rma_number(ref)
        except InvalidRmaNumberError as exc:
            reason = f"neither a return id nor a valid RMA number: {exc}"
            raise ApiError(422, f"{ref!r} is {reason}", fields=[FieldError(field="ref", reason=reason)]) from None
        ret = uow.returns.get_by_rma_number(rma_number)
    else:
        ret = uow.returns.get(return_id)
    if ret is None:
        raise ApiError(404, f"no return {ref!r}")
    return ret


def summary(ret: ReturnAuthorization) -> ReturnSummary:
    return ReturnSummary(**_summary_fields(ret))


def _summary_fields(ret: ReturnAuthorization) -> dict[str, Any]:
    return {
        "return_id": ret.id,
        "rma_number": ret.rma_number,
        "status": ret.status,
        "channel": ret.channel,
        "order_id": ret.request.order_id,
        "upstream_request_id": ret.upstream_request_id,
        "created_at": ret.created_at,
        "updated_at": ret.updated_at,
        "status_url": status_url(ret.id),
    }


def detail(ret: ReturnAuthorization, label: LabelRecord | None, refunds: Sequence[RefundRecord]) -> ReturnDetail:
    names = {line.order_line_id: line.item_name for line in ret.request.lines}
    decision = ret.decision
    return ReturnDetail(
        **_summary_fields(ret),
        attention_cause=ret.attention_cause,
        decision=None
        if decision is None
        else DecisionView(
            outcome=decision.decision,
            returnless=decision.returnless,
            reasons=decision.reasons,
            policy_version=decision.policy_version,
            refund_quote=decision.refund,
        ),
        lines=[
            LineView(
                order_line_id=line.order_line_id,
                sku=line.sku,
                item_name=names.get(line.order_line_id, ""),
                quantity=line.quantity,
                status=line.status,
            )
            for line in ret.lines
        ],
        timeline=[TimelineView.model_validate(entry, from_attributes=True) for entry in ret.timeline],
        label=None
        if label is None or label.document is None
        else LabelView(
            url=f"{status_url(ret.id)}/label",
            carrier=label.carrier,
            tracking_number=label.tracking_number,
            format=label.label_format,
        ),
        refunds=[RefundView(amount=r.amount, currency=r.currency, status=r.status) for r in refunds],
    )


def review_summary(ret: ReturnAuthorization) -> ReviewSummary:
    decision = ret.decision
    return ReviewSummary(
        **_summary_fields(ret),
        reasons=decision.reasons if decision else [],
        rule_ids=list(dict.fromkeys(hit.rule for hit in decision.trace)) if decision else [],
        requested_refund=decision.refund.amount if decision else None,
        currency=ret.request.currency,
        review_due_at=ret.due_at,
    )


def summaries_by_order(sessions: sessionmaker[Session], order_id: str, channel: str | None) -> list[ReturnSummary]:
    """Across channels unless one is given (the repository's `list_by_order` needs the channel).

    Reads the columns only: no aggregate is loaded, so no request (and no personal data) leaves the database."""
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
        .limit(MAX_ORDER_RETURNS)
    )
    if channel is not None:
        stmt = stmt.where(ReturnRow.channel == channel)
    with sessions() as session:
        rows = session.execute(stmt).all()
    return [
        ReturnSummary(
            return_id=row.id,
            rma_number=row.rma_number,
            status=Status(row.status),
            channel=row.channel,
            order_id=row.order_id,
            upstream_request_id=row.upstream_request_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            status_url=status_url(row.id),
        )
        for row in rows
    ]
