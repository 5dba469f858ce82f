"""Inspection grades and what they do to the refund.

The refund quoted at authorization assumed the item comes back as the customer described it. The inspector's grade
settles it: as described (A), opened (B), used or damaged by the customer (C), or not the item sold / nothing
refundable (D). Seller-fault lines keep their full refund unless the item is not the one sold.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from rma.domain.policy.evaluate import Decision, OrderHistory, Outcome
from rma.domain.policy.model import Fault, PolicyVersion
from rma.domain.refunds import RefundInput, RefundLineInput, RefundQuote, calculate_refund, shipping_shares
from rma.domain.requests import ReturnRequest


class Grade(StrEnum):
    AS_DESCRIBED = "A"
    OPENED = "B"
    DAMAGED_BY_CUSTOMER = "C"
    NOT_REFUNDABLE = "D"


class Disposition(StrEnum):
    RESTOCK = "restock"
    REFURBISH = "refurbish"
    LIQUIDATE = "liquidate"
    RETURN_TO_VENDOR = "return_to_vendor"
    QUARANTINE = "quarantine"


class InspectionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    grade: Grade
    disposition: Disposition
    note: str = ""


def disposition_for(grade: Grade, *, seller_fault: bool) -> Disposition:
    if grade is Grade.NOT_REFUNDABLE:
        return Disposition.QUARANTINE
    if seller_fault:
        return Disposition.RETURN_TO_VENDOR
    return {
        Grade.AS_DESCRIBED: Disposition.RESTOCK,
        Grade.OPENED: Disposition.REFURBISH,
        Grade.DAMAGED_BY_CUSTOMER: Disposition.LIQUIDATE,
    }[grade]


def _fee_bp(policy: PolicyVersion, fault: Fault, quoted_bp: int, grade: Grade) -> int:
    if fault is Fault.SELLER:
        return 0
    if grade is Grade.OPENED:
        return max(quoted_bp, int(policy.restocking_fee.buyer_remorse_percent * 100))
    if grade is Grade.DAMAGED_BY_CUSTOMER:
        return max(quoted_bp, int(policy.inspection.damaged_by_customer_percent * 100))
    return quoted_bp


def settle_refund(
    request: ReturnRequest,
    decision: Decision,
    policy: PolicyVersion,
    grade: Grade | None,
    history: OrderHistory,
) -> RefundQuote:
    """The refund due after inspection (`grade`), or without one for a returnless refund (`grade` None)."""
    shares = shipping_shares(
        request.shipping_paid, [line.delivered_value for line in request.lines], request.order_goods_value
    )
    by_line = {line.order_line_id: (line, share) for line, share in zip(request.lines, shares, strict=True)}
    refundable = grade is not Grade.NOT_REFUNDABLE
    lines = []
    for line_decision in decision.lines:
        line, share = by_line[line_decision.order_line_id]
        accepted = line_decision.outcome is not Outcome.REJECT and refundable
        lines.append(
            RefundLineInput(
                order_line_id=line.order_line_id,
                unit_price=line.unit_price,
                quantity=line.quantity_to_return if accepted else 0,
                quantity_delivered=line.quantity_delivered,
                units_already_claimed=line_decision.units_already_claimed,
                line_tax=line.tax,
                line_shipping=share,
                refund_shipping=line_decision.fault is Fault.SELLER,
                restocking_fee_bp=0
                if decision.returnless
                else _fee_bp(policy, line_decision.fault, line_decision.restocking_fee_bp, grade or Grade.AS_DESCRIBED),
                already_refunded=history.refunded_by_line.get(line.order_line_id, 0),
            )
        )
    label = decision.refund.label_deduction if refundable else 0
    return calculate_refund(
        RefundInput(
            currency=request.currency,
            lines=lines,
            label_deduction=label,
            order_captured=request.amount_captured,
            order_already_refunded=history.refunded_total,
        )
    )
