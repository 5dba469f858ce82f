"""The refund calculator: every figure in integer minor units, exact across partial returns, and capped."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rma.domain.refunds import (
    RefundInput,
    RefundLineInput,
    calculate_refund,
    shipping_shares,
    unit_shares,
)


def line(**overrides) -> RefundLineInput:
    fields = {"order_line_id": "ol-1", "unit_price": 1_000, "quantity": 1, "quantity_delivered": 1, "line_tax": 0}
    return RefundLineInput(**{**fields, **overrides})


def quote(*lines: RefundLineInput, **overrides):
    captured = sum(x.unit_price * x.quantity_delivered + x.line_tax + x.line_shipping for x in lines)
    fields = {"currency": "USD", "lines": list(lines), "order_captured": captured}
    return calculate_refund(RefundInput(**{**fields, **overrides}))


# --- helpers ---------------------------------------------------------------------------------------------------------


def test_unit_shares_split_evenly_with_earlier_units_first():
    # 100 over 3 units: 34, 33, 33
    assert unit_shares(100, 3, 0, 1) == 34
    assert unit_shares(100, 3, 1, 1) == 33
    assert unit_shares(100, 3, 1, 2) == 66
    assert unit_shares(100, 3, 0, 3) == 100
    assert unit_shares(100, 3, 2, 0) == 0


def test_shipping_shares_by_value_with_other_lines_holding_the_rest():
    # Lines worth 300 and 100 of an order worth 1000 goods: 60% of the value is on other lines.
    assert shipping_shares(500, [300, 100], 1_000) == [150, 50]
    # No other lines: the two lines take all of it.
    assert shipping_shares(500, [300, 200], 500) == [300, 200]
    assert shipping_shares(0, [300, 200], 500) == [0, 0]


# --- cases -----------------------------------------------------------------------------------------------------------


def test_full_line_refunds_price_and_all_its_tax():
    result = quote(line(unit_price=2_500, quantity=2, quantity_delivered=2, line_tax=400))

    assert result.amount == 5_400
    assert (result.items, result.tax, result.shipping, result.restocking_fee, result.label_deduction) == (
        5_000,
        400,
        0,
        0,
        0,
    )
    assert result.capped_by is None
    assert result.currency == "USD"
    assert [(x.order_line_id, x.amount) for x in result.lines] == [("ol-1", 5_400)]


def test_partial_quantity_refunds_that_many_units_of_tax():
    result = quote(line(unit_price=1_000, quantity=1, quantity_delivered=3, line_tax=100))

    assert result.items == 1_000
    assert result.tax == 34  # first of 34 / 33 / 33
    assert result.amount == 1_034


def test_two_successive_partial_returns_refund_the_tax_exactly():
    first = quote(line(quantity=1, quantity_delivered=3, line_tax=100))
    second = quote(line(quantity=2, quantity_delivered=3, line_tax=100, units_already_claimed=1))

    assert (first.tax, second.tax) == (34, 66)
    assert first.tax + second.tax == 100


def test_claims_beyond_what_remains_are_limited_to_the_remaining_units():
    result = quote(line(quantity=5, quantity_delivered=3, units_already_claimed=2, line_tax=100))
    assert (result.items, result.tax) == (1_000, 33)

    nothing_left = quote(line(quantity=1, quantity_delivered=3, units_already_claimed=7, line_tax=100))
    assert (nothing_left.items, nothing_left.tax, nothing_left.amount) == (0, 0, 0)


def test_seller_fault_refunds_the_line_share_of_shipping():
    paid = line(quantity=1, quantity_delivered=2, line_shipping=301, refund_shipping=True)
    not_paid = line(quantity=1, quantity_delivered=2, line_shipping=301, refund_shipping=False)

    assert quote(paid).shipping == 151
    assert quote(paid).amount == 1_151
    assert quote(not_paid).shipping == 0
    assert quote(not_paid).amount == 1_000


def test_restocking_fee_is_a_percentage_of_the_items_only():
    result = quote(line(unit_price=4_999, quantity=1, line_tax=400, restocking_fee_bp=2_000))

    assert result.restocking_fee == 1_000  # 20% of 4,999, rounded half up
    assert result.amount == 4_999 + 400 - 1_000
    assert result.lines[0].restocking_fee == 1_000


def test_label_deduction_is_spread_over_lines_by_value():
    a = line(order_line_id="a", unit_price=3_000)
    b = line(order_line_id="b", unit_price=1_000)

    result = quote(a, b, label_deduction=800)

    assert result.label_deduction == 800
    assert [x.label_deduction for x in result.lines] == [600, 200]
    assert [x.amount for x in result.lines] == [2_400, 800]
    assert result.amount == 3_200


def test_label_larger_than_the_refund_never_makes_it_negative():
    result = quote(line(unit_price=500), label_deduction=795 * 10)

    assert result.amount == 0
    assert result.label_deduction == 500
    assert result.lines[0].amount == 0


def test_zero_quantity_line_gets_nothing():
    result = quote(line(order_line_id="a", quantity=0), line(order_line_id="b"), label_deduction=100)

    assert [x.amount for x in result.lines] == [0, 900]
    assert [x.label_deduction for x in result.lines] == [0, 100]


def test_line_cap_with_already_refunded():
    # Paid 1,100 on the line; 700 already refunded (say, a goodwill credit): at most 400 more.
    result = quote(line(unit_price=1_000, line_tax=100, already_refunded=700))

    assert result.amount == 400
    assert result.capped_by == "line"
    assert result.items == 1_000  # the breakdown still shows what was claimed


def test_line_cap_when_more_than_the_line_was_refunded():
    result = quote(line(unit_price=1_000, already_refunded=5_000))
    assert result.amount == 0
    assert result.capped_by == "line"


def test_order_cap_with_order_already_refunded():
    a = line(order_line_id="a", unit_price=3_000)
    b = line(order_line_id="b", unit_price=1_000)

    result = quote(a, b, order_captured=4_000, order_already_refunded=3_000)

    assert result.amount == 1_000
    assert result.capped_by == "order"
    assert [x.amount for x in result.lines] == [750, 250]


def test_order_cap_wins_over_line_cap():
    a = line(order_line_id="a", already_refunded=900)
    b = line(order_line_id="b")

    result = quote(a, b, order_captured=2_000, order_already_refunded=1_900)

    assert result.capped_by == "order"
    assert result.amount == 100


def test_no_cap_when_there_is_room():
    result = quote(line(), order_captured=5_000, order_already_refunded=4_000)
    assert result.amount == 1_000
    assert result.capped_by is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"restocking_fee_bp": 10_001},
        {"quantity": -1},
        {"quantity_delivered": 0},
        {"unit_price": -5},
        {"unit_price": 1.5},
        {"surprise": True},
    ],
)
def test_refund_line_input_validation(overrides):
    with pytest.raises(ValidationError):
        line(**overrides)


def test_refund_input_needs_a_line():
    with pytest.raises(ValidationError):
        RefundInput(currency="USD", lines=[], order_captured=0)


# --- properties ------------------------------------------------------------------------------------------------------


@st.composite
def refund_lines(draw, index: int) -> RefundLineInput:
    delivered = draw(st.integers(1, 20))
    return RefundLineInput(
        order_line_id=f"ol-{index}",
        unit_price=draw(st.integers(0, 100_000)),
        quantity=draw(st.integers(0, delivered + 2)),
        quantity_delivered=delivered,
        units_already_claimed=draw(st.integers(0, delivered + 1)),
        line_tax=draw(st.integers(0, 20_000)),
        line_shipping=draw(st.integers(0, 5_000)),
        refund_shipping=draw(st.booleans()),
        restocking_fee_bp=draw(st.integers(0, 10_000)),
        already_refunded=draw(st.one_of(st.just(0), st.integers(0, 2_000_000))),
    )


@st.composite
def refund_inputs(draw) -> RefundInput:
    count = draw(st.integers(1, 5))
    lines = [draw(refund_lines(i)) for i in range(count)]
    paid = sum(x.unit_price * x.quantity_delivered + x.line_tax + x.line_shipping for x in lines)
    return RefundInput(
        currency="USD",
        lines=lines,
        label_deduction=draw(st.one_of(st.just(0), st.integers(0, 50_000))),
        order_captured=draw(st.one_of(st.just(paid), st.integers(0, paid + 10_000))),
        order_already_refunded=draw(st.one_of(st.just(0), st.integers(0, paid + 10_000))),
    )


@settings(max_examples=400)
@given(data=refund_inputs())
def test_refund_invariants(data):
    result = calculate_refund(data)

    assert 0 <= result.amount <= max(0, data.order_captured - data.order_already_refunded)
    assert result.amount == sum(x.amount for x in result.lines)
    assert 0 <= result.label_deduction <= data.label_deduction
    assert result.label_deduction == sum(x.label_deduction for x in result.lines)
    for given_line, refunded in zip(data.lines, result.lines, strict=True):
        paid = given_line.unit_price * given_line.quantity_delivered + given_line.line_tax + given_line.line_shipping
        assert refunded.order_line_id == given_line.order_line_id
        assert 0 <= refunded.amount <= max(0, paid - given_line.already_refunded)
        assert 0 <= refunded.restocking_fee <= refunded.items
        assert 0 <= refunded.tax <= given_line.line_tax
        assert 0 <= refunded.shipping <= (given_line.line_shipping if given_line.refund_shipping else 0)
        assert refunded.amount <= refunded.items + refunded.tax + refunded.shipping - refunded.restocking_fee
    if result.capped_by is None:
        gross = result.items + result.tax + result.shipping - result.restocking_fee - result.label_deduction
        assert result.amount == gross


@st.composite
def splits(draw) -> tuple[int, int, int, list[int]]:
    delivered = draw(st.integers(1, 40))
    tax = draw(st.integers(0, 100_000))
    shipping = draw(st.integers(0, 10_000))
    parts: list[int] = []
    left = delivered
    while left:
        take = draw(st.integers(1, left))
        parts.append(take)
        left -= take
    return delivered, tax, shipping, parts


@settings(max_examples=300)
@given(case=splits())
def test_splitting_a_line_over_successive_returns_refunds_its_tax_exactly_once(case):
    delivered, tax, shipping, parts = case
    claimed = 0
    taxes, shippings, items = [], [], []
    for take in parts:
        result = quote(
            line(
                unit_price=999,
                quantity=take,
                quantity_delivered=delivered,
                units_already_claimed=claimed,
                line_tax=tax,
                line_shipping=shipping,
                refund_shipping=True,
            ),
            order_captured=10**9,
        )
        taxes.append(result.tax)
        shippings.append(result.shipping)
        items.append(result.items)
        claimed += take

    assert sum(taxes) == tax
    assert sum(shippings) == shipping
    assert sum(items) == 999 * delivered
    # Each return's tax is within one unit of its exact proportional share.
    for take, refunded_tax in zip(parts, taxes, strict=True):
        assert abs(refunded_tax * delivered - tax * take) <= take * delivered
