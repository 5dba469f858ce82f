"""The return policy: one or more tests per rule, under the shipped default policy and small variants of it.

Default request (see conftest): one unopened home item at 49.99 USD + 4.00 tax, bought for a buyer reason,
ordered 2026-09-01, delivered Tuesday 2026-09-08; the default 30-day window closes Thursday 2026-10-08.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rma.domain.policy import Decision, Fault, OrderHistory, Outcome, PolicyBook, evaluate
from rma.domain.policy.calendar import add_business_days, is_business_day, roll_forward
from rma.domain.policy.model import FaultMatrix, HolidayExtension, MonthDay
from rma.domain.reasons import Reason

TODAY = date(2026, 9, 10)
CLOSES = date(2026, 10, 8)

SELLER = "CR-DEFECTIVE"
BUYER = "CR-UNWANTED_ITEM"


def rules(decision: Decision) -> list[str]:
    return [hit.rule for hit in decision.trace]


def details(decision: Decision, rule: str) -> list[str]:
    return [hit.detail for hit in decision.trace if hit.rule == rule]


def text(decision: Decision) -> str:
    return "\n".join(decision.reasons)


@pytest.fixture
def decide(make_request, policy_book):
    """evaluate(make_request(lines=[line], **request), book, today=today, history=history)."""

    def run(*lines: dict, book: PolicyBook | None = None, today: date = TODAY, history=None, **request) -> Decision:
        return evaluate(
            make_request(lines=list(lines) or None, **request),
            book or policy_book,
            today=today,
            history=history,
        )

    return run


# --- the basic decision ----------------------------------------------------------------------------------------------


def test_in_window_request_is_authorized(decide):
    decision = decide()

    assert decision.decision is Outcome.AUTHORIZE
    assert decision.policy_version == "2026.1"
    assert decision.evaluated_on == TODAY
    assert decision.reasons[0] == "Your return of 1 item is authorized."
    assert not decision.returnless  # 49.99 is above the returnless limit
    (line,) = decision.lines
    assert (line.order_line_id, line.outcome, line.quantity, line.in_policy) == ("ol-1", Outcome.AUTHORIZE, 1, True)
    assert line.window_closes_on == CLOSES
    assert line.reason == Reason.UNWANTED_ITEM
    assert line.fault is Fault.BUYER
    assert "window.open" in rules(decision)
    assert "value.ok" in rules(decision)


def test_plural_units_in_the_authorized_reason(decide):
    decision = decide({"quantity_delivered": 3, "quantity_to_return": 3})
    assert decision.reasons[0] == "Your return of 3 items is authorized."


def test_decision_explains_itself(decide):
    decision = decide({"condition": "opened"})

    assert decision.trace
    assert decision.trace[0].rule == "policy.version"
    assert "2026.1" in decision.trace[0].detail
    assert {"reason.fault", "quantity.ok", "window.start", "window.days", "window.open", "fee.restocking"} <= set(
        rules(decision)
    )
    assert all(hit.rule and hit.detail for hit in decision.trace)
    assert {hit.line for hit in decision.trace if hit.rule.startswith("window.")} == {"ol-1"}
    assert decision.reasons
    for reason in decision.reasons:
        # Written for customers: sentences, no rule ids, no Python reprs.
        assert reason[0].isupper()
        assert reason.endswith(".")
        assert "Outcome." not in reason
        assert "Fault." not in reason
        assert "window." not in reason
        assert "bp" not in reason


# --- the return window -----------------------------------------------------------------------------------------------


def test_window_is_counted_from_delivery(decide):
    decision = decide(delivery_date=date(2026, 9, 15))  # Tuesday -> Thursday 2026-10-15

    assert decision.lines[0].window_closes_on == date(2026, 10, 15)
    assert details(decision, "window.start") == ["counted from delivery on 2026-09-15"]


def test_last_day_of_the_window_is_in_and_the_next_is_out(decide):
    assert decide(today=CLOSES).decision is Outcome.AUTHORIZE
    late = decide(today=date(2026, 10, 9))
    assert late.decision is Outcome.REJECT
    assert "window.closed" in rules(late)


def test_window_from_order_date_plus_transit_when_delivery_is_unknown(decide):
    # Ordered Tuesday 2026-09-01 + 7 days transit = 2026-09-08, + 30 days = Thursday 2026-10-08.
    decision = decide(delivery_date=None)

    assert decision.lines[0].window_closes_on == CLOSES
    (start,) = details(decision, "window.start")
    assert "delivery date unknown" in start
    assert "2026-09-08" in start


def test_transit_days_come_from_the_policy(decide, make_book):
    book = make_book(window={"expected_transit_days": 14})
    decision = decide(delivery_date=None, book=book)
    assert decision.lines[0].window_closes_on == date(2026, 10, 15)


def test_deadline_on_a_saturday_rolls_to_monday(decide):
    # Delivered Thursday 2026-09-03: 30 days is Saturday 2026-10-03.
    decision = decide(delivery_date=date(2026, 9, 3), today=date(2026, 10, 5))

    assert decision.lines[0].window_closes_on == date(2026, 10, 5)
    assert decision.decision is Outcome.AUTHORIZE
    assert details(decision, "window.business_day") == [
        "2026-10-03 is not a business day: rolled forward to 2026-10-05"
    ]
    assert decide(delivery_date=date(2026, 9, 3), today=date(2026, 10, 6)).decision is Outcome.REJECT


def test_deadline_on_thanksgiving_rolls_to_the_next_day(decide):
    # Delivered 2026-10-27: 30 days is Thursday 2026-11-26, Thanksgiving.
    decision = decide(order_date=date(2026, 10, 20), delivery_date=date(2026, 10, 27))

    assert decision.lines[0].window_closes_on == date(2026, 11, 27)
    assert "window.business_day" in rules(decision)


def test_deadline_on_july_4_weekend_rolls_past_the_observed_holiday(decide):
    # 2027-07-04 is a Sunday, observed on Monday 07-05: the next business day is Tuesday 07-06.
    decision = decide(order_date=date(2027, 6, 1), delivery_date=date(2027, 6, 4), today=date(2027, 6, 10))
    assert decision.lines[0].window_closes_on == date(2027, 7, 6)


def test_business_calendar_comes_from_the_policy(decide, make_book):
    book = make_book(window={"business_calendar": "GB"})
    decision = decide(order_date=date(2026, 10, 20), delivery_date=date(2026, 10, 27), book=book)

    assert decision.lines[0].window_closes_on == date(2026, 11, 26)  # Thanksgiving is a UK business day
    assert "window.business_day" not in rules(decision)


def test_holiday_season_order_is_returnable_until_january_31(decide):
    # Ordered 2027-11-15, delivered 11-18: 30 days would be 12-18; extended to Monday 2028-01-31.
    decision = decide(order_date=date(2027, 11, 15), delivery_date=date(2027, 11, 18), today=date(2028, 1, 31))

    assert decision.decision is Outcome.AUTHORIZE
    assert decision.lines[0].window_closes_on == date(2028, 1, 31)
    assert details(decision, "window.holiday_extension") == [
        "ordered in the holiday season: returnable until 2028-01-31"
    ]
    assert "window.business_day" not in rules(decision)


def test_holiday_extension_rolls_forward_when_january_31_is_a_weekend(decide):
    # 2027-01-31 is a Sunday: returnable until Monday 2027-02-01.
    decision = decide(order_date=date(2026, 11, 15), delivery_date=date(2026, 11, 18), today=date(2027, 2, 1))

    assert decision.lines[0].window_closes_on == date(2027, 2, 1)
    assert decision.decision is Outcome.AUTHORIZE
    assert {"window.holiday_extension", "window.business_day"} <= set(rules(decision))
    late = decide(order_date=date(2026, 11, 15), delivery_date=date(2026, 11, 18), today=date(2027, 2, 2))
    assert late.decision is Outcome.REJECT


@pytest.mark.parametrize(
    ("order_date", "extended"),
    [
        (date(2026, 10, 15), False),
        (date(2026, 10, 31), False),
        (date(2026, 11, 1), True),
        (date(2026, 12, 31), True),
        (date(2027, 1, 1), False),
    ],
)
def test_holiday_season_boundaries(decide, order_date, extended):
    decision = decide(order_date=order_date, delivery_date=order_date)
    assert ("window.holiday_extension" in rules(decision)) is extended


def test_october_order_is_not_extended(decide):
    decision = decide(order_date=date(2026, 10, 20), delivery_date=date(2026, 10, 22))  # 30 days: 2026-11-21, Sat

    assert decision.lines[0].window_closes_on == date(2026, 11, 23)
    assert "window.holiday_extension" not in rules(decision)


def test_extension_never_shortens_a_later_window(decide):
    # A December order delivered late in January: the normal window closes after January 31.
    decision = decide(order_date=date(2026, 12, 30), delivery_date=date(2027, 1, 20), today=date(2027, 2, 10))

    assert decision.lines[0].window_closes_on == date(2027, 2, 19)
    assert "window.holiday_extension" not in rules(decision)


def test_no_holiday_extension_when_the_policy_has_none(decide, make_book):
    book = make_book(holiday_extension=None)
    decision = decide(order_date=date(2026, 11, 15), delivery_date=date(2026, 11, 18), book=book)

    assert decision.lines[0].window_closes_on == date(2026, 12, 18)
    assert "window.holiday_extension" not in rules(decision)


def test_window_days_per_category(decide):
    # grocery: 14 days from Tuesday 2026-09-08 = Tuesday 2026-09-22.
    decision = decide({"category": "grocery"}, today=date(2026, 9, 22))
    assert decision.lines[0].window_closes_on == date(2026, 9, 22)
    assert decision.decision is Outcome.AUTHORIZE
    assert "14-day window" in details(decision, "window.days")[0]

    assert decide({"category": "grocery"}, today=date(2026, 9, 23)).decision is Outcome.REJECT


def test_category_window_keys_are_case_insensitive(decide, make_book):
    book = make_book(window={"by_category": {" Toys ": 60}})
    decision = decide({"category": "TOYS"}, book=book)
    assert decision.lines[0].window_closes_on == date(2026, 11, 9)  # 11-07 is a Saturday


def test_default_window_for_other_categories(decide, make_book):
    book = make_book(window={"default_days": 10})
    assert decide({"category": "garden"}, book=book).lines[0].window_closes_on == date(2026, 9, 18)
    assert decide({"category": "home"}, book=book).lines[0].window_closes_on == CLOSES  # home has its own 30


def test_window_days_per_sku(decide, make_book):
    book = make_book(sku_overrides={"KETTLE-1L-BLK": {"window_days": 90}})

    decision = decide(book=book, today=date(2026, 11, 20))

    assert decision.lines[0].window_closes_on == date(2026, 12, 7)
    assert decision.decision is Outcome.AUTHORIZE
    assert decide({"sku": "OTHER-SKU"}, book=book, today=date(2026, 11, 20)).decision is Outcome.REJECT


def test_sku_override_without_window_days_keeps_the_category_window(decide, make_book):
    book = make_book(sku_overrides={"KETTLE-1L-BLK": {"review": False}})
    assert decide(book=book).lines[0].window_closes_on == CLOSES


# --- returnable or not -----------------------------------------------------------------------------------------------


def test_non_returnable_category_is_rejected_with_a_readable_reason(decide):
    decision = decide({"category": "Hazmat", "item_name": "Lithium battery"})

    assert decision.decision is Outcome.REJECT
    assert decision.lines[0].outcome is Outcome.REJECT
    assert decision.lines[0].in_policy is False
    assert (
        "\u201cLithium battery\u201d cannot be returned: items in the hazmat category are not returnable."
        in decision.reasons
    )
    assert "returnable.rejected" in rules(decision)
    assert decision.refund.amount == 0


def test_non_returnable_but_seller_fault_goes_to_review(decide):
    decision = decide({"category": "perishable", "reason_code": SELLER, "item_name": "Cheese"})

    assert decision.decision is Outcome.REVIEW
    assert decision.lines[0].outcome is Outcome.REVIEW
    assert "cannot be sent back" in text(decision)
    assert "our team will contact you" in text(decision)
    assert "returnable.seller_fault_review" in rules(decision)


def test_non_returnable_sku(decide, make_book):
    book = make_book(non_returnable_skus={"KETTLE-1L-BLK"})

    decision = decide(book=book)

    assert decision.decision is Outcome.REJECT
    assert "\u201cElectric kettle\u201d cannot be returned: this item is not returnable." in decision.reasons
    assert decide({"sku": "OTHER"}, book=book).decision is Outcome.AUTHORIZE


def test_sku_override_not_returnable(decide, make_book):
    book = make_book(sku_overrides={"KETTLE-1L-BLK": {"returnable": False}})
    assert decide(book=book).decision is Outcome.REJECT
    assert decide({"reason_code": SELLER}, book=book).decision is Outcome.REVIEW


def test_sku_override_review(decide, make_book):
    book = make_book(sku_overrides={"KETTLE-1L-BLK": {"review": True}})

    decision = decide(book=book)

    assert decision.decision is Outcome.REVIEW
    assert "sku.review" in rules(decision)
    assert "A member of our team will review the return of \u201cElectric kettle\u201d." in decision.reasons


def test_non_returnable_category_names_are_case_insensitive(decide, make_book):
    book = make_book(non_returnable_categories={" Garden Tools "})
    assert decide({"category": "garden tools"}, book=book).decision is Outcome.REJECT


# --- quantities and earlier returns ----------------------------------------------------------------------------------


def test_quantity_beyond_what_earlier_returns_left_is_rejected(decide):
    line = {"quantity_delivered": 3, "quantity_to_return": 2}
    history = OrderHistory(claimed_quantity={"ol-1": 2})

    decision = decide(line, history=history)

    assert decision.decision is Outcome.REJECT
    assert decision.lines[0].outcome is Outcome.REJECT
    assert "quantity.exceeded" in rules(decision)
    assert (
        "You asked to return 2 of \u201cElectric kettle\u201d but only 1 can still be returned: 3 were delivered "
        "and 2 are already on an earlier return." in decision.reasons
    )


def test_quantity_within_what_earlier_returns_left_is_fine(decide):
    history = OrderHistory(claimed_quantity={"ol-1": 1, "other-line": 5})
    decision = decide({"quantity_delivered": 3, "quantity_to_return": 2}, history=history)

    assert decision.decision is Outcome.AUTHORIZE
    assert details(decision, "quantity.ok") == ["2 of 2 returnable units"]


def test_excess_quantity_rejects_only_that_line(decide):
    history = OrderHistory(claimed_quantity={"ol-2": 1})
    decision = decide({"order_line_id": "ol-1"}, {"order_line_id": "ol-2"}, history=history)

    assert decision.decision is Outcome.AUTHORIZE
    assert [line.outcome for line in decision.lines] == [Outcome.AUTHORIZE, Outcome.REJECT]


def test_successive_partial_returns_refund_the_line_tax_exactly(decide):
    line = {"quantity_delivered": 3, "tax": 100, "quantity_to_return": 1}
    first = decide(line)
    second = decide(
        {**line, "quantity_to_return": 2},
        history=OrderHistory(claimed_quantity={"ol-1": 1}, refunded_by_line={"ol-1": first.refund.amount}),
    )

    assert (first.refund.tax, second.refund.tax) == (34, 66)
    assert first.refund.items + second.refund.items == 3 * 4_999


# --- several lines ---------------------------------------------------------------------------------------------------


def test_partially_authorized_multi_line_return(decide):
    decision = decide(
        {"order_line_id": "ol-1", "unit_price": 3_000, "tax": 240},
        {"order_line_id": "ol-2", "unit_price": 2_000, "tax": 160, "category": "hazmat", "item_name": "Battery"},
        # a seller reason on both sides of the split would refund shipping; keep it simple: buyer, but returnless
        # is out (3,000 > 1,000) and the label is deducted once.
    )

    assert decision.decision is Outcome.AUTHORIZE
    assert [line.outcome for line in decision.lines] == [Outcome.AUTHORIZE, Outcome.REJECT]
    assert decision.reasons[0] == "Your return of 1 item is authorized."
    assert any("Battery" in reason for reason in decision.reasons)
    refund_lines = {x.order_line_id: x for x in decision.refund.lines}
    assert refund_lines["ol-2"].amount == 0
    assert refund_lines["ol-2"].items == 0
    assert refund_lines["ol-1"].amount == 3_000 + 240 - 795
    assert decision.refund.amount == 3_000 + 240 - 795


def test_all_lines_rejected_rejects_the_return(decide):
    decision = decide(
        {"order_line_id": "ol-1", "category": "hazmat"},
        {"order_line_id": "ol-2", "category": "digital"},
    )

    assert decision.decision is Outcome.REJECT
    assert not decision.returnless
    assert [line.outcome for line in decision.lines] == [Outcome.REJECT, Outcome.REJECT]
    assert decision.refund.amount == 0
    assert not any("authorized" in reason for reason in decision.reasons)
    assert "value.ok" not in rules(decision)


def test_review_of_one_line_sends_the_return_to_review(decide):
    decision = decide(
        {"order_line_id": "ol-1"},
        {"order_line_id": "ol-2", "reason_code": "CR-SWITCHEROO"},
    )
    assert decision.decision is Outcome.REVIEW
    assert [line.outcome for line in decision.lines] == [Outcome.AUTHORIZE, Outcome.REVIEW]


# --- out of the window -----------------------------------------------------------------------------------------------

LATE = date(2026, 10, 20)


def test_out_of_window_rejected_by_default(decide):
    decision = decide(today=LATE)

    assert decision.decision is Outcome.REJECT
    assert "The return window for \u201cElectric kettle\u201d closed on October 8, 2026." in decision.reasons
    assert decision.lines[0].in_policy is False
    (closed,) = details(decision, "window.closed")
    assert "out-of-policy mode reject" in closed


def test_out_of_window_review_mode(decide, make_book):
    book = make_book(authorization={"out_of_policy": "review"})

    decision = decide(book=book, today=LATE)

    assert decision.decision is Outcome.REVIEW
    assert (
        "The return window for \u201cElectric kettle\u201d closed on October 8, 2026. "
        "A member of our team will review your request." in decision.reasons
    )


def test_out_of_window_accept_mode_adds_the_out_of_policy_fee(decide, make_book):
    book = make_book(authorization={"out_of_policy": "accept"}, restocking_fee={"out_of_policy_percent": 15})

    decision = decide(book=book, today=LATE)  # unopened: no fee in policy

    assert decision.decision is Outcome.AUTHORIZE
    assert decision.lines[0].in_policy is False
    assert decision.lines[0].restocking_fee_bp == 1_500
    assert decision.refund.restocking_fee == 750  # 15% of 4,999 = 749.85
    assert (
        "A 15% restocking fee applies to \u201cElectric kettle\u201d because it was accepted outside the policy."
        in (decision.reasons)
    )


def test_out_of_policy_fee_never_lowers_a_larger_remorse_fee(decide, make_book):
    book = make_book(
        authorization={"out_of_policy": "accept"},
        restocking_fee={"buyer_remorse_percent": 25, "out_of_policy_percent": 10},
    )
    decision = decide({"condition": "opened"}, book=book, today=LATE)
    assert decision.lines[0].restocking_fee_bp == 2_500


def test_out_of_window_accept_mode_seller_fault_pays_no_fee(decide, make_book):
    book = make_book(authorization={"out_of_policy": "accept"})
    decision = decide({"reason_code": SELLER}, book=book, today=LATE)

    assert decision.decision is Outcome.AUTHORIZE
    assert decision.refund.restocking_fee == 0


def test_rejected_line_is_not_told_about_a_restocking_fee(decide):
    # Rejected (out of window) and opened for a buyer reason: no fee applies to an item that is not taken back.
    decision = decide({"condition": "opened"}, today=LATE)

    assert decision.decision is Outcome.REJECT
    assert "restocking fee" not in text(decision)
    assert decision.lines[0].restocking_fee_bp == 0


def test_rejected_non_returnable_line_is_not_told_about_a_restocking_fee(decide):
    decision = decide({"order_line_id": "ol-1"}, {"order_line_id": "ol-2", "category": "hazmat", "condition": "used"})

    assert decision.decision is Outcome.AUTHORIZE
    assert "restocking fee" not in text(decision)


# --- value threshold -------------------------------------------------------------------------------------------------


def test_value_above_the_threshold_goes_to_review(decide):
    decision = decide({"unit_price": 25_001, "quantity_delivered": 2, "quantity_to_return": 2})

    assert decision.decision is Outcome.REVIEW
    assert "value.review" in rules(decision)
    assert "Because of the value of this return, a member of our team will review it." in decision.reasons
    assert not decision.reasons[0].startswith("Your return")


def test_value_at_the_threshold_is_authorized(decide):
    decision = decide({"unit_price": 25_000, "quantity_delivered": 3, "quantity_to_return": 2})
    assert decision.decision is Outcome.AUTHORIZE
    assert details(decision, "value.ok") == ["requested value 50000 is within the review threshold 50000"]


def test_value_counts_only_accepted_lines(decide):
    decision = decide(
        {"order_line_id": "ol-1", "unit_price": 30_000},
        {"order_line_id": "ol-2", "unit_price": 30_000, "category": "hazmat"},
    )
    assert decision.decision is Outcome.AUTHORIZE


def test_threshold_is_per_currency(decide):
    decision = decide({"unit_price": 60_000}, currency="JPY")  # JPY threshold is 7,000,000
    assert decision.decision is Outcome.AUTHORIZE


def test_currency_without_a_threshold_goes_to_review(decide):
    decision = decide(currency="CHF")

    assert decision.decision is Outcome.REVIEW
    assert "value.no_threshold" in rules(decision)
    assert "A member of our team will review your request." in decision.reasons
    assert decision.refund.label_deduction == 0  # and no label cost is configured for CHF either


# --- refund without return -------------------------------------------------------------------------------------------


def test_cheap_item_is_returnless(decide):
    decision = decide({"unit_price": 999, "tax": 80, "condition": "opened"})

    assert decision.decision is Outcome.AUTHORIZE
    assert decision.returnless
    assert decision.lines[0].returnless_eligible
    assert "You do not need to send the item back; your refund will be issued directly." in decision.reasons
    assert {"returnless.eligible", "returnless.decision"} <= set(rules(decision))
    # No label to pay for and no restocking fee when nothing comes back.
    assert decision.refund.label_deduction == 0
    assert decision.refund.restocking_fee == 0
    assert decision.refund.amount == 999 + 80


def test_returnless_limit_is_inclusive(decide):
    assert decide({"unit_price": 1_000}).returnless
    assert not decide({"unit_price": 1_001}).returnless


def test_excluded_category_is_never_returnless(decide):
    decision = decide({"unit_price": 500, "category": "electronics"})

    assert not decision.returnless
    assert not decision.lines[0].returnless_eligible
    assert decision.refund.label_deduction == 795


def test_returnless_category_names_are_case_insensitive(decide, make_book):
    # Like every other category list in the policy: "Electronics" in the file means the electronics category.
    excluded = make_book(returnless={"excluded_categories": {" Electronics "}})
    assert not decide({"unit_price": 500, "category": "electronics"}, book=excluded).returnless
    assert decide({"unit_price": 500, "category": "home"}, book=excluded).returnless

    allowed = make_book(returnless={"categories": {"Home"}})
    assert decide({"unit_price": 500, "category": "home"}, book=allowed).returnless
    assert not decide({"unit_price": 500, "category": "garden"}, book=allowed).returnless


def test_returnless_needs_every_accepted_line_to_qualify(decide):
    decision = decide(
        {"order_line_id": "ol-1", "unit_price": 500},
        {"order_line_id": "ol-2", "unit_price": 5_000},
    )

    assert not decision.returnless
    assert [line.returnless_eligible for line in decision.lines] == [True, False]
    assert "returnless.decision" not in rules(decision)


def test_rejected_lines_do_not_block_returnless(decide):
    decision = decide(
        {"order_line_id": "ol-1", "unit_price": 500},
        {"order_line_id": "ol-2", "unit_price": 5_000, "category": "hazmat"},
    )
    assert decision.returnless


def test_returnless_category_allow_list(decide, make_book):
    book = make_book(returnless={"categories": {"home"}})
    assert decide({"unit_price": 500}, book=book).returnless
    assert not decide({"unit_price": 500, "category": "apparel"}, book=book).returnless


def test_returnless_faults_and_switch(decide, make_book):
    seller_only = make_book(returnless={"faults": {"seller"}})
    assert decide({"unit_price": 500, "reason_code": SELLER}, book=seller_only).returnless
    assert not decide({"unit_price": 500, "reason_code": BUYER}, book=seller_only).returnless

    disabled = make_book(returnless={"enabled": False})
    assert not decide({"unit_price": 500}, book=disabled).returnless


def test_returnless_needs_a_limit_for_the_currency(decide):
    assert not decide({"unit_price": 5}, currency="CHF").returnless


def test_sku_override_forces_or_forbids_returnless(decide, make_book):
    book = make_book(
        sku_overrides={"BIG": {"returnless": True}, "SMALL": {"returnless": False}},
    )

    forced = decide({"sku": "BIG", "unit_price": 9_000}, book=book)
    forbidden = decide({"sku": "SMALL", "unit_price": 100}, book=book)

    assert forced.returnless
    assert details(forced, "returnless.sku_override") == ["SKU override: returnless True"]
    assert not forbidden.returnless


# --- restocking fee --------------------------------------------------------------------------------------------------


def test_no_restocking_fee_for_seller_fault(decide):
    decision = decide({"condition": "opened", "reason_code": SELLER})

    assert decision.refund.restocking_fee == 0
    assert decision.lines[0].restocking_fee_bp == 0
    assert "fee.none_seller_fault" in rules(decision)


def test_no_restocking_fee_for_unopened_in_policy(decide):
    decision = decide({"condition": "unopened"})

    assert decision.refund.restocking_fee == 0
    assert "fee.none_original_condition" in rules(decision)


def test_no_restocking_fee_for_a_damaged_item_bought_for_a_buyer_reason(decide):
    # Only the conditions listed as buyer remorse carry the fee.
    assert decide({"condition": "damaged"}).refund.restocking_fee == 0


@pytest.mark.parametrize("condition", ["opened", "used"])
def test_restocking_fee_for_buyer_remorse_opened_or_used(decide, condition):
    decision = decide({"condition": condition})

    assert decision.lines[0].restocking_fee_bp == 2_000
    assert decision.refund.restocking_fee == 1_000  # 20% of 4,999
    assert decision.refund.amount == 4_999 + 400 - 1_000 - 795
    assert (
        f"A 20% restocking fee applies to \u201cElectric kettle\u201d because it was returned {condition} "
        "for a buyer reason." in decision.reasons
    )


def test_sku_override_restocking_fee_percent(decide, make_book):
    book = make_book(sku_overrides={"KETTLE-1L-BLK": {"restocking_fee_percent": "12.5"}})

    decision = decide({"condition": "opened"}, book=book)

    assert decision.lines[0].restocking_fee_bp == 1_250
    assert decision.refund.restocking_fee == 625  # 624.875 rounded half up
    assert "A 12.5% restocking fee applies" in text(decision)


def test_zero_percent_override_is_not_announced(decide, make_book):
    book = make_book(sku_overrides={"KETTLE-1L-BLK": {"restocking_fee_percent": 0}})

    decision = decide({"condition": "opened"}, book=book)

    assert decision.refund.restocking_fee == 0
    assert "restocking fee" not in text(decision)
    assert details(decision, "fee.restocking") == ["0% restocking fee: returned opened for a buyer reason"]


# --- label deduction -------------------------------------------------------------------------------------------------


def test_label_cost_is_deducted_for_buyer_fault(decide):
    decision = decide()

    assert decision.refund.label_deduction == 795
    assert decision.refund.amount == 4_999 + 400 - 795
    assert "The return label cost of 7.95 USD will be deducted from your refund." in decision.reasons
    assert "label.deduction" in rules(decision)


def test_label_cost_in_a_zero_decimal_currency(decide):
    decision = decide({"unit_price": 200_000, "tax": 0}, currency="JPY")
    assert "The return label cost of 1200 JPY will be deducted from your refund." in decision.reasons


def test_no_label_deduction_for_seller_fault(decide):
    decision = decide({"reason_code": SELLER})

    assert decision.refund.label_deduction == 0
    assert decision.refund.amount == 4_999 + 400
    assert details(decision, "label.free") == ["prepaid label at no cost"]


def test_no_label_deduction_when_any_line_is_seller_fault(decide):
    decision = decide(
        {"order_line_id": "ol-1", "reason_code": BUYER},
        {"order_line_id": "ol-2", "reason_code": SELLER},
    )
    assert decision.refund.label_deduction == 0


def test_no_label_deduction_for_returnless(decide):
    decision = decide({"unit_price": 500})
    assert decision.returnless
    assert decision.refund.label_deduction == 0
    assert details(decision, "label.free") == ["no label needed"]


def test_no_label_deduction_when_the_policy_says_so(decide, make_book):
    book = make_book(label={"deduct_for_buyer_fault": False})
    assert decide(book=book).refund.label_deduction == 0


def test_seller_fault_refunds_the_shipping_share(decide):
    decision = decide({"reason_code": SELLER}, shipping_paid=599)
    assert decision.refund.shipping == 599
    assert decision.refund.amount == 4_999 + 400 + 599


def test_buyer_fault_keeps_the_shipping(decide):
    assert decide(shipping_paid=599).refund.shipping == 0


def test_history_caps_the_refund(decide):
    line_capped = decide(history=OrderHistory(refunded_by_line={"ol-1": 5_000}))
    assert line_capped.refund.amount == 399
    assert line_capped.refund.capped_by == "line"

    order_capped = decide(history=OrderHistory(refunded_total=5_300))
    assert order_capped.refund.amount == 99
    assert order_capped.refund.capped_by == "order"


# --- reason codes and fault ------------------------------------------------------------------------------------------


def test_unknown_reason_code_uses_the_policy_default_fault(decide, make_book):
    decision = decide({"reason_code": "ACME-42", "condition": "opened"})

    assert decision.lines[0].fault is Fault.BUYER
    assert decision.lines[0].reason == "ACME-42"
    assert details(decision, "reason.unknown") == ["unknown reason code 'ACME-42': treated as buyer fault"]
    assert decision.refund.label_deduction == 795
    assert decision.refund.restocking_fee == 1_000

    seller_book = make_book(fault={"unknown_code": "seller"})
    as_seller = decide({"reason_code": "ACME-42", "condition": "opened"}, book=seller_book)
    assert as_seller.lines[0].fault is Fault.SELLER
    assert as_seller.refund.label_deduction == 0
    assert as_seller.refund.restocking_fee == 0


def test_known_reason_is_traced_with_its_fault(decide):
    decision = decide({"reason_code": "amz-pg-bad-desc"})
    assert details(decision, "reason.fault") == ["'amz-pg-bad-desc' means NOT_AS_DESCRIBED: seller fault"]
    assert decision.lines[0].reason == "NOT_AS_DESCRIBED"


def test_switcheroo_goes_to_review(decide):
    decision = decide({"reason_code": "CR-SWITCHEROO"})

    assert decision.decision is Outcome.REVIEW
    assert "reason.review" in rules(decision)
    assert "A member of our team will review the return of \u201cElectric kettle\u201d." in decision.reasons


# --- policy versions -------------------------------------------------------------------------------------------------


@pytest.fixture
def two_versions(version_data) -> PolicyBook:
    # Given newest first on purpose: the book sorts them by effective date.
    return PolicyBook.model_validate(
        {
            "versions": [
                version_data(
                    version="v2", effective_from=date(2026, 10, 1), window={"default_days": 10, "by_category": {}}
                ),
                version_data(version="v1", effective_from=date(2020, 1, 1)),
            ]
        }
    )


def test_versions_are_sorted_and_looked_up_by_order_date(two_versions):
    assert [v.version for v in two_versions.versions] == ["v1", "v2"]
    assert two_versions.in_force(date(2026, 9, 30)).version == "v1"
    assert two_versions.in_force(date(2026, 10, 1)).version == "v2"
    assert two_versions.in_force(date(2019, 12, 31)) is None


def test_order_keeps_the_version_in_force_when_it_was_placed(decide, two_versions):
    # Ordered under v1 (30 days), evaluated after v2 (10 days) took effect: v1 still applies.
    decision = decide(book=two_versions, today=date(2026, 10, 5))

    assert decision.policy_version == "v1"
    assert decision.decision is Outcome.AUTHORIZE
    assert decision.lines[0].window_closes_on == CLOSES


def test_order_after_a_new_version_gets_its_rules(decide, two_versions):
    decision = decide(
        order_date=date(2026, 10, 1), delivery_date=date(2026, 10, 6), book=two_versions, today=date(2026, 10, 19)
    )

    assert decision.policy_version == "v2"
    assert decision.lines[0].window_closes_on == date(2026, 10, 16)
    assert decision.decision is Outcome.REJECT


def test_order_before_every_version_goes_to_review(decide, make_book):
    book = make_book(effective_from=date(2027, 1, 1))

    decision = decide(book=book)

    assert decision.decision is Outcome.REVIEW
    assert decision.policy_version is None
    assert decision.lines == []
    assert decision.refund.amount == 0
    assert [hit.rule for hit in decision.trace] == ["policy.none"]
    assert "before 2027-01-01" in decision.trace[0].detail
    assert decision.reasons == ["A member of our team will review your request."]


# --- the policy model ------------------------------------------------------------------------------------------------


def test_the_shipped_policy_loads(policy_book):
    (version,) = policy_book.versions
    assert version.window.default_days == 30
    assert version.window.by_category["grocery"] == 14
    assert version.fault.fault_of(Reason.DEFECTIVE) is Fault.SELLER
    assert version.fault.fault_of(Reason.TOO_SMALL) is Fault.BUYER
    assert version.fault.fault_of(Reason.SWITCHEROO) is Fault.BUYER  # not listed: the unknown-code default
    assert version.fault.fault_of(None) is Fault.BUYER
    assert version.restocking_fee.buyer_remorse_percent == Decimal(20)
    assert "hazmat" in version.non_returnable_categories


def test_the_shipped_policy_gives_every_reason_a_fault_or_a_review(policy_book):
    fault = policy_book.versions[0].fault
    assert set(Reason) == fault.seller | fault.buyer | fault.review


def invalid(version_data, **updates) -> str:
    with pytest.raises(ValidationError) as info:
        PolicyBook.model_validate({"versions": [version_data(**updates)]})
    return str(info.value)


@pytest.mark.parametrize("days", [0, 366, 400, -1])
def test_window_days_out_of_range_are_refused(version_data, days):
    assert "default_days" in invalid(version_data, window={"default_days": days})
    assert "by_category" in invalid(version_data, window={"by_category": {"home": days}})
    assert "window_days" in invalid(version_data, sku_overrides={"X": {"window_days": days}})


def test_seller_and_buyer_overlap_is_refused(version_data):
    message = invalid(version_data, fault={"buyer": {"TOO_SMALL", "DEFECTIVE"}})
    assert "both seller and buyer fault" in message
    assert "DEFECTIVE" in message


@pytest.mark.parametrize("month_day", ["04-31", "13-01", "00-10", "02-30", "xx", "11"])
def test_invalid_month_day_is_refused(version_data, month_day):
    assert "holiday_extension" in invalid(version_data, holiday_extension={"season_start": month_day})


def test_duplicate_version_names_are_refused(version_data):
    with pytest.raises(ValidationError, match="must be unique"):
        PolicyBook.model_validate({"versions": [version_data(), version_data(effective_from=date(2027, 1, 1))]})


def test_two_versions_on_the_same_date_are_refused(version_data):
    with pytest.raises(ValidationError, match="same date"):
        PolicyBook.model_validate({"versions": [version_data(), version_data(version="other")]})


def test_empty_book_is_refused():
    with pytest.raises(ValidationError):
        PolicyBook.model_validate({"versions": []})


@pytest.mark.parametrize("calendar", ["XX", "Narnia", ""])
def test_unknown_holiday_calendar_is_refused(version_data, calendar):
    assert "known holiday calendar" in invalid(version_data, window={"business_calendar": calendar})


@pytest.mark.parametrize(
    "updates",
    [
        {"restocking_fee": {"buyer_remorse_percent": 101}},
        {"restocking_fee": {"out_of_policy_percent": -1}},
        {"restocking_fee": {"buyer_remorse_percent": "12.345"}},
        {"authorization": {"out_of_policy": "maybe"}},
        {"authorization": {"review_above": {"XYZ": 100}}},
        {"label": {"cost": {"USD": -1}}},
        {"window": {"expected_transit_days": 61}},
        {"fault": {"unknown_code": "nobody"}},
        {"fault": {"seller": {"NOT_A_REASON"}}},
        {"surprise": True},
        {"version": ""},
    ],
)
def test_other_invalid_policies_are_refused(version_data, updates):
    invalid(version_data, **updates)


def test_month_day_parsing_and_leap_day():
    assert MonthDay.parse("11-01") == MonthDay(month=11, day=1)
    leap = MonthDay.parse("02-29")
    assert leap.in_year(2028) == date(2028, 2, 29)
    assert leap.in_year(2027) == date(2027, 2, 28)


def test_holiday_season_may_cross_the_new_year():
    extension = HolidayExtension.model_validate(
        {"season_start": "11-15", "season_end": "01-15", "returnable_until": "02-28"}
    )
    assert extension.season_containing(date(2027, 1, 10)) == (date(2026, 11, 15), date(2027, 1, 15))
    assert extension.extended_until(date(2027, 1, 10)) == date(2027, 2, 28)
    assert extension.extended_until(date(2026, 12, 1)) == date(2027, 2, 28)
    assert extension.extended_until(date(2027, 1, 16)) is None
    assert extension.extended_until(date(2026, 11, 14)) is None


def test_fault_matrix_review_set_may_overlap():
    matrix = FaultMatrix(
        seller=frozenset({Reason.DEFECTIVE}),
        buyer=frozenset({Reason.TOO_SMALL}),
        review=frozenset({Reason.DEFECTIVE}),
        unknown_code=Fault.SELLER,
    )
    assert matrix.fault_of(Reason.DEFECTIVE) is Fault.SELLER
    assert matrix.fault_of(Reason.EXTRA_ITEM) is Fault.SELLER


# --- business days ---------------------------------------------------------------------------------------------------


def test_business_days():
    assert is_business_day(date(2026, 11, 25), "US")
    assert not is_business_day(date(2026, 11, 26), "US")  # Thanksgiving
    assert not is_business_day(date(2026, 11, 28), "US")  # Saturday
    assert roll_forward(date(2026, 11, 25), "US") == date(2026, 11, 25)
    assert roll_forward(date(2026, 12, 25), "US") == date(2026, 12, 28)
    assert roll_forward(date(2027, 12, 31), "US") == date(2028, 1, 3)  # observed New Year, then a weekend
    # Wednesday before Thanksgiving + 2 business days: Friday (1), skip the weekend, Monday (2).
    assert add_business_days(date(2026, 11, 25), 2, "US") == date(2026, 11, 30)
    assert add_business_days(date(2026, 11, 25), 0, "US") == date(2026, 11, 25)
