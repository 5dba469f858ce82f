"""Money in integer minor units: exact allocation, percentages, display, and currency safety."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rma.domain.errors import MoneyError
from rma.domain.money import Money, allocate, format_amount, minor_unit_exponent, percent_of

# --- allocate --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (101, [1, 1, 1], [34, 34, 33]),
        (10, [3, 7], [3, 7]),
        (10, [1, 2], [3, 7]),  # 3.33 / 6.67: the larger remainder gets the unit
        (5, [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]),
        (0, [5, 3], [0, 0]),
        (7, [1], [7]),
        (1_000, [4_999, 5_949, 599], [433, 515, 52]),  # 432.9, 515.2, 51.9
    ],
)
def test_allocate_examples(total, weights, expected):
    assert allocate(total, weights) == expected
    assert sum(allocate(total, weights)) == total


def test_allocate_is_deterministic():
    weights = [7, 3, 3, 11, 0, 5]
    first = allocate(997, weights)
    assert all(allocate(997, weights) == first for _ in range(20))


def test_allocate_ties_go_to_the_earlier_part():
    assert allocate(1, [1, 1]) == [1, 0]
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]
    # Equal remainders in the middle: the earlier of the two tied parts gets the unit.
    assert allocate(2, [2, 1, 1]) == [1, 1, 0]


def test_allocate_gives_zero_weights_nothing():
    assert allocate(10, [0, 1, 0, 1]) == [0, 5, 0, 5]
    assert allocate(3, [0, 2, 0, 2, 0]) == [0, 2, 0, 1, 0]


def test_allocate_splits_evenly_when_every_weight_is_zero():
    assert allocate(10, [0, 0, 0]) == [4, 3, 3]
    assert allocate(0, [0, 0]) == [0, 0]


@pytest.mark.parametrize(
    ("total", "weights", "message"),
    [
        (-1, [1], "negative amount"),
        (10, [], "no parts"),
        (10, [1, -1], "must not be negative"),
    ],
)
def test_allocate_errors(total, weights, message):
    with pytest.raises(MoneyError, match=message):
        allocate(total, weights)


@settings(max_examples=300)
@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30),
)
def test_allocate_sums_exactly_and_each_part_is_within_one_of_its_share(total, weights):
    parts = allocate(total, weights)

    assert len(parts) == len(weights)
    assert sum(parts) == total
    effective = weights if any(weights) else [1] * len(weights)
    weight_sum = sum(effective)
    for part, weight in zip(parts, effective, strict=True):
        share = Fraction(total * weight, weight_sum)
        assert abs(part - share) < 1
        assert part >= 0
        if weight == 0:
            assert part == 0
    assert allocate(total, weights) == parts


# --- percent_of ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "bp", "expected"),
    [
        (10_000, 2_000, 2_000),
        (4_999, 2_000, 1_000),  # 999.8 -> 1000
        (25, 2_000, 5),
        (1, 5_000, 1),  # exactly half: up
        (3, 5_000, 2),  # 1.5 -> 2
        (1, 4_999, 0),  # 0.4999 -> 0
        (199, 250, 5),  # 4.975 -> 5
        (0, 2_000, 0),
        (12_345, 0, 0),
        (12_345, 10_000, 12_345),
    ],
)
def test_percent_of_rounds_half_up(amount, bp, expected):
    assert percent_of(amount, bp) == expected


@pytest.mark.parametrize(("amount", "bp"), [(-1, 100), (100, -1)])
def test_percent_of_refuses_negatives(amount, bp):
    with pytest.raises(MoneyError):
        percent_of(amount, bp)


# --- format_amount ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (795, "USD", "7.95 USD"),
        (5, "USD", "0.05 USD"),
        (0, "USD", "0.00 USD"),
        (100_000, "EUR", "1000.00 EUR"),
        (1_200, "JPY", "1200 JPY"),
        (0, "JPY", "0 JPY"),
        (1_234, "KWD", "1.234 KWD"),
        (5, "KWD", "0.005 KWD"),
        (12_345, "CLF", "1.2345 CLF"),
    ],
)
def test_format_amount(amount, currency, expected):
    assert format_amount(amount, currency) == expected


def test_minor_unit_exponents():
    assert minor_unit_exponent("USD") == 2
    assert minor_unit_exponent("JPY") == 0
    assert minor_unit_exponent("KWD") == 3
    assert minor_unit_exponent("CLF") == 4


# --- Money -----------------------------------------------------------------------------------------------------------


def test_money_adds_in_one_currency():
    total = Money(amount=150, currency="USD") + Money(amount=250, currency="USD")
    assert total == Money(amount=400, currency="USD")


def test_money_refuses_mixed_currencies():
    usd, eur = Money(amount=1, currency="USD"), Money(amount=1, currency="EUR")
    with pytest.raises(MoneyError, match="cannot combine USD with EUR"):
        _ = usd + eur
    with pytest.raises(MoneyError):
        usd.minus_floor_zero(eur)


def test_money_minus_floor_zero():
    a = Money(amount=500, currency="USD")
    assert a.minus_floor_zero(Money(amount=200, currency="USD")).amount == 300
    assert a.minus_floor_zero(Money(amount=900, currency="USD")).amount == 0


def test_money_zero_and_str():
    zero = Money.zero("JPY")
    assert (zero.amount, zero.currency) == (0, "JPY")
    assert str(Money(amount=795, currency="USD")) == "795 USD minor units"


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": -1, "currency": "USD"},
        {"amount": 1.5, "currency": "USD"},
        {"amount": "1", "currency": "USD"},
        {"amount": 10**12 + 1, "currency": "USD"},
        {"amount": 1, "currency": "XYZ"},
        {"amount": 1, "currency": "USD", "note": "x"},
    ],
)
def test_money_validation(fields):
    with pytest.raises(ValidationError):
        Money(**fields)


def test_money_is_immutable():
    money = Money(amount=1, currency="USD")
    with pytest.raises(ValidationError):
        money.amount = 2  # type: ignore[misc]
