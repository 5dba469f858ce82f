"""Inspection grades settle the refund quoted at authorization."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.conftest import TODAY

from rma.domain.inspection import Disposition, Grade, disposition_for, settle_refund
from rma.domain.policy import OrderHistory, PolicyBook, evaluate


def _settle(make_request: Any, book: PolicyBook, grade: Grade | None, **line: Any) -> Any:
    request = make_request(lines=[line])
    decision = evaluate(request, book, today=TODAY)
    policy = book.in_force(request.order_date)
    assert policy is not None
    return decision, settle_refund(request, decision, policy, grade, OrderHistory())


def test_as_described_refunds_the_quote(make_request: Any, policy_book: PolicyBook) -> None:
    decision, settled = _settle(make_request, policy_book, Grade.AS_DESCRIBED, reason_code="DEFECTIVE")
    assert settled.amount == decision.refund.amount == 4_999 + 400


def test_opened_buyer_remorse_pays_the_restocking_fee(make_request: Any, policy_book: PolicyBook) -> None:
    decision, settled = _settle(make_request, policy_book, Grade.OPENED, condition="unopened")
    assert decision.refund.restocking_fee == 0  # the customer said unopened
    assert settled.restocking_fee == 1_000  # the inspector found it opened: 20% of 4,999, half up
    assert settled.amount == decision.refund.amount - 1_000


def test_damaged_by_customer_loses_half_on_buyer_fault_only(make_request: Any, policy_book: PolicyBook) -> None:
    _, buyer = _settle(make_request, policy_book, Grade.DAMAGED_BY_CUSTOMER, condition="used")
    assert buyer.restocking_fee == 2_500  # 50% of 4,999, half up
    _, seller = _settle(make_request, policy_book, Grade.DAMAGED_BY_CUSTOMER, reason_code="DEFECTIVE")
    assert seller.restocking_fee == 0


def test_not_refundable_refunds_nothing(make_request: Any, policy_book: PolicyBook) -> None:
    _, settled = _settle(make_request, policy_book, Grade.NOT_REFUNDABLE)
    assert settled.amount == 0
    assert settled.label_deduction == 0


def test_returnless_has_no_fee_whatever_the_grade(make_request: Any, policy_book: PolicyBook) -> None:
    decision, settled = _settle(make_request, policy_book, None, unit_price=800, tax=64, condition="opened")
    assert decision.returnless
    assert settled.restocking_fee == 0
    assert settled.amount == 800 + 64


def test_earlier_refunds_cap_the_settlement(make_request: Any, policy_book: PolicyBook) -> None:
    request = make_request(lines=[{"reason_code": "DEFECTIVE"}])
    decision = evaluate(request, policy_book, today=TODAY)
    policy = policy_book.in_force(request.order_date)
    assert policy is not None
    history = OrderHistory(refunded_by_line={"ol-1": 5_000}, refunded_total=5_000)
    settled = settle_refund(request, decision, policy, Grade.AS_DESCRIBED, history)
    assert settled.amount == 399
    assert settled.capped_by == "line"


@pytest.mark.parametrize(
    ("grade", "seller_fault", "expected"),
    [
        (Grade.AS_DESCRIBED, False, Disposition.RESTOCK),
        (Grade.OPENED, False, Disposition.REFURBISH),
        (Grade.DAMAGED_BY_CUSTOMER, False, Disposition.LIQUIDATE),
        (Grade.AS_DESCRIBED, True, Disposition.RETURN_TO_VENDOR),
        (Grade.NOT_REFUNDABLE, True, Disposition.QUARANTINE),
    ],
)
def test_dispositions(grade: Grade, seller_fault: bool, expected: Disposition) -> None:
    assert disposition_for(grade, seller_fault=seller_fault) is expected
