"""The refund calculator, in integer minor units.

Per line: item price x quantity, plus the tax of exactly the units returned, plus (seller fault) the line's share of
the original shipping, less the restocking fee; then, once per return, less the return label cost (buyer fault).
Tax and shipping are split over units with the largest-remainder method in a fixed order, and earlier returns of the
same line take the first shares, so every unit's shares sum to the line's tax and shipping exactly across returns.
Caps: never negative, never more than a line's paid value less what was already refunded on it, never more than
the order's captured amount less what was already refunded on the order.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rma.domain.money import CurrencyCode, MinorUnits, allocate, percent_of

BasisPoints = Annotated[int, Field(ge=0, le=10_000)]


class RefundLineInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order_line_id: str
    unit_price: MinorUnits
    quantity: Annotated[int, Field(ge=0)]
    quantity_delivered: Annotated[int, Field(ge=1)]
    units_already_claimed: Annotated[int, Field(ge=0)] = 0
    line_tax: MinorUnits
    line_shipping: MinorUnits = Field(default=0, description="this line's share of the order's shipping")
    refund_shipping: bool = False
    restocking_fee_bp: BasisPoints = 0
    already_refunded: MinorUnits = 0


class RefundInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: CurrencyCode
    lines: Annotated[list[RefundLineInput], Field(min_length=1)]
    label_deduction: MinorUnits = 0
    order_captured: MinorUnits
    order_already_refunded: MinorUnits = 0


class LineRefund(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_line_id: str
    items: int
    tax: int
    shipping: int
    restocking_fee: int
    label_deduction: int
    amount: int


class RefundQuote(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str
    items: int
    tax: int
    shipping: int
    restocking_fee: int
    label_deduction: int
    capped_by: Literal["line", "order"] | None = None
    lines: list[LineRefund]


def unit_shares(total: int, units: int, start: int, count: int) -> int:
    """The sum of shares `start .. start+count-1` when `total` is split evenly over `units` units."""
    if count == 0:
        return 0
    return sum(allocate(total, [1] * units)[start : start + count])


def shipping_shares(shipping_paid: int, line_values: list[int], order_goods_value: int) -> list[int]:
    """Each line's share of the order's shipping, by value; the order's other lines hold the rest."""
    others = max(0, order_goods_value - sum(line_values))
    return allocate(shipping_paid, [*line_values, others])[:-1]


def calculate_refund(data: RefundInput) -> RefundQuote:
    gross: list[tuple[RefundLineInput, int, int, int, int]] = []
    for line in data.lines:
        claimed = min(line.units_already_claimed, line.quantity_delivered)
        count = min(line.quantity, line.quantity_delivered - claimed)
        items = line.unit_price * count
        tax = unit_shares(line.line_tax, line.quantity_delivered, claimed, count)
        shipping = (
            unit_shares(line.line_shipping, line.quantity_delivered, claimed, count) if line.refund_shipping else 0
        )
        fee = min(percent_of(items, line.restocking_fee_bp), items)
        gross.append((line, items, tax, shipping, fee))

    before_label = [items + tax + shipping - fee for _, items, tax, shipping, fee in gross]
    label = min(data.label_deduction, sum(before_label))
    label_parts = allocate(label, before_label) if label else [0] * len(gross)

    capped_by: Literal["line", "order"] | None = None
    amounts = []
    for (line, *_), value, label_part in zip(gross, before_label, label_parts, strict=True):
        net = value - label_part
        line_cap = max(
            0,
            line.unit_price * line.quantity_delivered + line.line_tax + line.line_shipping - line.already_refunded,
        )
        if net > line_cap:
            net, capped_by = line_cap, "line"
        amounts.append(net)

    order_room = max(0, data.order_captured - data.order_already_refunded)
    if sum(amounts) > order_room:
        amounts, capped_by = allocate(order_room, amounts), "order"

    lines = [
        LineRefund(
            order_line_id=line.order_line_id,
            items=items,
            tax=tax,
            shipping=shipping,
            restocking_fee=fee,
            label_deduction=label_part,
            amount=amount,
        )
        for (line, items, tax, shipping, fee), label_part, amount in zip(gross, label_parts, amounts, strict=True)
    ]
    return RefundQuote(
        amount=sum(amounts),
        currency=data.currency,
        items=sum(x.items for x in lines),
        tax=sum(x.tax for x in lines),
        shipping=sum(x.shipping for x in lines),
        restocking_fee=sum(x.restocking_fee for x in lines),
        label_deduction=label,
        capped_by=capped_by,
        lines=lines,
    )
