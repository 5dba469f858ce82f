"""The intake schema: what a valid return request is, and how each mistake is named."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from rma.domain.reasons import Reason
from rma.domain.requests import Condition, ReturnLineRequest, ReturnRequest
from rma.domain.validation import FieldError, field_errors

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "return_request.json"


def errors_of(data: dict) -> list[FieldError]:
    with pytest.raises(ValidationError) as info:
        ReturnRequest.model_validate(data)
    return field_errors(info.value)


def fields_of(data: dict) -> set[str]:
    return {e.field for e in errors_of(data)}


def json_errors_of(data: dict) -> list[FieldError]:
    with pytest.raises(ValidationError) as info:
        ReturnRequest.model_validate_json(json.dumps(data))
    return field_errors(info.value)


# --- valid requests --------------------------------------------------------------------------------------------------


def test_example_request_parses_from_json():
    request = ReturnRequest.model_validate_json(EXAMPLE.read_text(encoding="utf-8"))

    assert request.order_date == date(2026, 10, 2)
    assert request.delivery_date == date(2026, 10, 6)
    assert request.currency == "USD"
    assert [line.order_line_id for line in request.lines] == ["ol-1", "ol-2"]
    first, second = request.lines
    assert first.condition is Condition.OPENED
    assert first.reason.canonical is Reason.UNWANTED_ITEM
    assert second.reason.canonical is Reason.NOT_AS_DESCRIBED
    assert first.delivered_value == 4_999 * 2 + 800
    assert request.order_goods_value == 18_298 - 599
    assert request.return_from.country == "US"


def test_builder_request_round_trips_through_json(make_request):
    request = make_request(lines=[{}, {"order_line_id": "ol-2", "quantity_delivered": 3, "quantity_to_return": 2}])

    again = ReturnRequest.model_validate_json(request.model_dump_json())

    assert again == request
    assert request.amount_captured == sum(line.delivered_value for line in request.lines)


def test_request_is_immutable(make_request):
    request = make_request()
    with pytest.raises(ValidationError):
        request.order_id = "other"  # type: ignore[misc]


def test_category_is_normalised_to_lower_case(make_line):
    assert make_line(category="  Home Goods ").category == "home goods"


def test_delivery_date_is_optional(request_data):
    data = request_data()
    del data["delivery_date"]
    assert ReturnRequest.model_validate(data).delivery_date is None


def test_delivery_on_the_order_date_is_allowed(make_request):
    assert make_request(order_date=date(2026, 9, 1), delivery_date=date(2026, 9, 1)).delivery_date == date(2026, 9, 1)


def test_amount_captured_may_exceed_the_lines(make_request):
    # Other lines of the order are not part of this return.
    request = make_request(amount_captured=100_000)
    assert request.order_goods_value == 100_000


def test_currency_and_country_are_normalised_to_upper_case(request_data):
    data = request_data(currency="usd")
    data["return_from"]["country"] = "us"
    request = ReturnRequest.model_validate(data)
    assert (request.currency, request.return_from.country) == ("USD", "US")


# --- unknown fields --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), "surprise"),
        (("contact",), "contact.surprise"),
        (("return_from",), "return_from.surprise"),
        (("lines", 0), "lines[0].surprise"),
    ],
)
def test_unknown_fields_are_rejected(request_data, path, expected):
    data = request_data()
    target = data
    for key in path:
        target = target[key]
    target["surprise"] = 1

    errors = errors_of(data)

    assert [(e.field, e.reason) for e in errors] == [(expected, "Extra inputs are not permitted")]


# --- strict numbers --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["unit_price", "tax", "quantity_delivered", "quantity_to_return"])
@pytest.mark.parametrize("bad", ["12", 12.5, 12.0, True])
def test_line_numbers_are_strict(request_data, field, bad):
    data = request_data()
    data["lines"][0][field] = bad

    assert f"lines[0].{field}" in fields_of(data)


@pytest.mark.parametrize("field", ["amount_captured", "shipping_paid"])
@pytest.mark.parametrize("bad", ["12", 12.5])
def test_order_amounts_are_strict(request_data, field, bad):
    data = request_data(amount_captured=100_000)
    data[field] = bad

    assert field in fields_of(data)


@pytest.mark.parametrize("bad", ["12", 12.5])
def test_strict_numbers_also_in_json(request_data, bad):
    data = request_data()
    data["lines"][0]["unit_price"] = bad

    errors = json_errors_of(data)

    assert [e.field for e in errors] == ["lines[0].unit_price"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("unit_price", -1),
        ("tax", -1),
        ("unit_price", 10**12 + 1),
        ("quantity_delivered", 0),
        ("quantity_to_return", 0),
        ("quantity_delivered", 10_001),
    ],
)
def test_line_numbers_are_bounded(request_data, field, value):
    data = request_data(amount_captured=10**13)
    data["lines"][0][field] = value

    assert f"lines[0].{field}" in fields_of(data)


# --- cross-field checks ----------------------------------------------------------------------------------------------


def test_quantity_to_return_above_delivered_is_refused(request_data):
    data = request_data(lines=[{"quantity_delivered": 2, "quantity_to_return": 3}])

    errors = errors_of(data)

    assert [e.field for e in errors] == ["lines[0]"]
    assert "quantity_to_return (3) is more than quantity_delivered (2)" in errors[0].reason


def test_returning_every_delivered_unit_is_allowed(make_request):
    request = make_request(lines=[{"quantity_delivered": 3, "quantity_to_return": 3}])
    assert request.lines[0].quantity_to_return == 3


def test_delivery_before_order_is_refused_naming_delivery_date(request_data):
    data = request_data(order_date=date(2026, 9, 10), delivery_date=date(2026, 9, 9))

    errors = errors_of(data)

    assert [e.field for e in errors] == ["delivery_date"]
    assert "before the order date 2026-09-10" in errors[0].reason
    assert not errors[0].reason.startswith("Value error")


def test_duplicate_order_line_id_is_refused_naming_lines(request_data):
    data = request_data(lines=[{"order_line_id": "ol-7"}, {"order_line_id": "ol-7", "sku": "OTHER"}])

    errors = errors_of(data)

    assert [e.field for e in errors] == ["lines"]
    assert "'ol-7' appears more than once" in errors[0].reason


def test_amount_captured_below_lines_and_shipping_is_refused(request_data):
    data = request_data(lines=[{"unit_price": 1_000, "tax": 100}], shipping_paid=500)
    assert data["amount_captured"] == 1_600
    data["amount_captured"] = 1_599

    errors = errors_of(data)

    assert [e.field for e in errors] == ["amount_captured"]
    assert "1599 is less than" in errors[0].reason
    assert "(1600)" in errors[0].reason


def test_amount_captured_equal_to_lines_and_shipping_is_accepted(make_request):
    request = make_request(lines=[{"unit_price": 1_000, "tax": 100}], shipping_paid=500, amount_captured=1_600)
    assert request.order_goods_value == 1_100


def test_no_lines_is_refused(request_data):
    data = request_data()
    data["lines"] = []
    assert fields_of(data) == {"lines"}


# --- other fields ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("currency", ["XYZ", "US", "dollars", ""])
def test_bad_currency_is_refused(request_data, currency):
    assert fields_of(request_data(currency=currency)) == {"currency"}


@pytest.mark.parametrize("email", ["not-an-email", "jordan@", "@example.com", "jordan example@example.com"])
def test_bad_email_is_refused(request_data, email):
    data = request_data()
    data["contact"]["email"] = email
    assert fields_of(data) == {"contact.email"}


@pytest.mark.parametrize("country", ["XX", "USA", "", "U1"])
def test_bad_country_is_refused(request_data, country):
    data = request_data()
    data["return_from"]["country"] = country
    assert fields_of(data) == {"return_from.country"}


def test_comment_length_is_bounded(make_line, request_data):
    assert make_line(comment="x" * 1_000).comment == "x" * 1_000

    data = request_data(lines=[{"comment": "x" * 1_001}])
    errors = errors_of(data)

    assert [e.field for e in errors] == ["lines[0].comment"]
    assert "at most 1000 characters" in errors[0].reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_line_id", ""),
        ("order_line_id", "-leading-dash"),
        ("sku", "has space"),
        ("asin", "b0c1234567"),
        ("asin", "B0C123"),
        ("category", "!bad"),
        ("condition", "like new"),
        ("reason_code", ""),
        ("reason_code", "-DEFECTIVE"),
        ("item_name", ""),
    ],
)
def test_bad_line_fields_are_refused(request_data, field, value):
    data = request_data()
    data["lines"][0][field] = value
    assert fields_of(data) == {f"lines[0].{field}"}


def test_bad_phone_is_refused(request_data):
    data = request_data()
    data["contact"]["phone"] = "call me"
    assert fields_of(data) == {"contact.phone"}


def test_bad_channel_is_refused(request_data):
    assert fields_of(request_data(channel="Amazon")) == {"channel"}


def test_bad_date_is_refused(request_data):
    assert fields_of(request_data(order_date="2026-02-30")) == {"order_date"}


def test_missing_fields_are_named(request_data):
    data = request_data()
    del data["order_id"]
    del data["lines"][0]["sku"]

    errors = errors_of(data)

    assert {(e.field, e.reason) for e in errors} == {
        ("order_id", "Field required"),
        ("lines[0].sku", "Field required"),
    }


# --- field_errors ----------------------------------------------------------------------------------------------------


def test_field_errors_gives_dotted_paths_and_plain_reasons(request_data):
    data = request_data(lines=[{}, {"order_line_id": "ol-2"}])
    data["lines"][0]["unit_price"] = "12"
    data["lines"][1]["quantity_delivered"] = 1
    data["lines"][1]["quantity_to_return"] = 2
    data["contact"]["email"] = "nope"

    errors = errors_of(data)

    assert FieldError(field="lines[0].unit_price", reason="Input should be a valid integer") in errors
    assert FieldError(field="lines[1]", reason="quantity_to_return (2) is more than quantity_delivered (1)") in errors
    assert any(e.field == "contact.email" for e in errors)
    assert all(not e.reason.startswith("Value error") for e in errors)


def test_field_errors_names_the_whole_request_when_there_is_no_location():
    with pytest.raises(ValidationError) as info:
        ReturnRequest.model_validate("not an object")

    assert [e.field for e in field_errors(info.value)] == ["(request)"]


def test_line_reason_property_normalises_the_code(make_line):
    line = make_line(reason_code="amz-pg-bad-desc")
    assert line.reason.raw == "amz-pg-bad-desc"
    assert line.reason.canonical is Reason.NOT_AS_DESCRIBED


def test_line_delivered_value_is_price_times_delivered_plus_tax():
    line = ReturnLineRequest(
        order_line_id="a",
        sku="b",
        item_name="c",
        category="home",
        quantity_delivered=3,
        quantity_to_return=1,
        unit_price=250,
        tax=60,
        condition=Condition.USED,
        reason_code="DEFECTIVE",
    )
    assert line.delivered_value == 810
