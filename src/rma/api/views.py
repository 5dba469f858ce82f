"""Read side of the API: find a return (through `rma.services.queries`), and shape what may be shown.

Views are built field by field from the aggregate, never by dumping it: the request inside carries the customer's
contact and address, which no response includes.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from rma.api.errors import ApiError
from rma.api.schemas import (
    DecisionView,
    LabelView,
    LineView,
    ParcelEventView,
    ParcelView,
    RefundView,
    ReturnDetail,
    ReturnSummary,
    ReviewSummary,
    TimelineView,
)
from rma.domain.returns import ReturnAuthorization
from rma.domain.validation import FieldError
from rma.ports.providers import TrackingEvent
from rma.ports.queries import ReturnHeader
from rma.ports.stores import LabelRecord, Parcel, RefundRecord
from rma.ports.unit_of_work import UnitOfWork
from rma.services import queries
from rma.services.errors import ReturnNotFoundError


def status_url(return_id: uuid.UUID) -> str:
    return f"/v1/returns/{return_id}"


def find(uow: UnitOfWork, ref: str) -> ReturnAuthorization:
    """`ref` is the internal UUID or an RMA number as a person typed it; 422 if it is neither, 404 if unknown."""
    try:
        return queries.find_return(uow, ref)
    except queries.InvalidReferenceError as exc:
        raise ApiError(422, str(exc), fields=[FieldError(field="ref", reason=exc.reason)]) from None
    except ReturnNotFoundError as exc:
        raise ApiError(404, str(exc)) from None


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


def detail(
    ret: ReturnAuthorization,
    label: LabelRecord | None,
    refunds: Sequence[RefundRecord],
    parcel: Parcel | None = None,
    history: Sequence[TrackingEvent] = (),
) -> ReturnDetail:
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
        if label is None or (label.document_key is None and label.legacy_document is None)
        else LabelView(
            url=f"{status_url(ret.id)}/label",
            packing_slip_url=f"{status_url(ret.id)}/packing-slip",
            qr_code_url=f"{status_url(ret.id)}/qr-code" if label.qr_key else None,
            carrier=label.carrier,
            service=label.service,
            tracking_number=label.tracking_number,
            format=label.label_format,
            cost=label.cost,
            currency=label.currency,
            void_status=label.void_status,
        ),
        parcel=None
        if parcel is None
        else ParcelView(
            tracking_number=parcel.tracking_number,
            carrier_status=parcel.carrier_status,
            events=[ParcelEventView(at=e.at, status=e.state, message=e.message, place=e.place) for e in history],
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


def header_summary(row: ReturnHeader) -> ReturnSummary:
    return ReturnSummary(**dataclasses.asdict(row), status_url=status_url(row.return_id))
