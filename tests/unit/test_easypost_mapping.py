"""The EasyPost adapter's pure parts: statuses, refunds, rates and money, error classes, webhook signatures, events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from easypost.errors.api.gateway_timeout_error import GatewayTimeoutError
from easypost.errors.api.http_error import HttpError
from easypost.errors.api.internal_server_error import InternalServerError
from easypost.errors.api.invalid_request_error import InvalidRequestError
from easypost.errors.api.json_error import JsonError
from easypost.errors.api.not_found_error import NotFoundError
from easypost.errors.api.payment_error import PaymentError
from easypost.errors.api.rate_limit_error import RateLimitError
from easypost.errors.api.timeout_error import TimeoutError as SdkTimeoutError
from easypost.errors.api.unauthorized_error import UnauthorizedError

from rma.adapters.easypost import EasyPostConfig, RateRule, parse_tracker_event, verify_signature
from rma.adapters.easypost.errors import (
    MAX_CAUSE,
    FatalError,
    RefusedError,
    TransientError,
    classify,
    retry_after_seconds,
    scrub,
)
from rma.adapters.easypost.fake_server import tracker_event
from rma.adapters.easypost.fake_state import FakeClock, FakeEasyPostState
from rma.adapters.easypost.model import MalformedError, PostageLabel, Rate, parse_shipment, parse_tracker
from rma.adapters.easypost.rates import choose_rate, minor_units, no_rate_cause
from rma.adapters.easypost.statuses import TRACKER_STATES, tracking_state, tracking_update, void_outcome
from rma.adapters.easypost.webhook import sign
from rma.domain.requests import Address
from rma.ports.providers import TrackingState, VoidOutcome

# -- statuses and refunds ----------------------------------------------------------------------------------------------

EVERY_STATUS = {
    "unknown": TrackingState.UNKNOWN,
    "pre_transit": TrackingState.PRE_TRANSIT,
    "in_transit": TrackingState.IN_TRANSIT,
    "out_for_delivery": TrackingState.OUT_FOR_DELIVERY,
    "delivered": TrackingState.DELIVERED,
    "available_for_pickup": TrackingState.AVAILABLE_FOR_PICKUP,
    "return_to_sender": TrackingState.RETURNED_TO_SENDER,
    "failure": TrackingState.FAILURE,
    "cancelled": TrackingState.CANCELLED,
    "error": TrackingState.ERROR,
}


@pytest.mark.parametrize(("status", "state"), EVERY_STATUS.items())
def test_every_easypost_status_has_its_state(status, state):
    assert tracking_state(status) is state
    assert tracking_state(status.upper()) is state


def test_the_table_names_every_documented_status():
    assert set(TRACKER_STATES) == set(EVERY_STATUS)


def test_a_status_easypost_adds_later_reads_as_unknown():
    assert tracking_state("teleported") is TrackingState.UNKNOWN


def test_lost_and_damaged_come_from_the_status_detail_but_delivered_stays_delivered():
    assert tracking_state("failure", "lost") is TrackingState.LOST
    assert tracking_state("in_transit", "damaged") is TrackingState.DAMAGED
    assert tracking_state("delivered", "damaged") is TrackingState.DELIVERED


@pytest.mark.parametrize(
    ("refund_status", "outcome"),
    [
        ("refunded", VoidOutcome.REFUNDED),
        ("submitted", VoidOutcome.SUBMITTED),
        ("rejected", VoidOutcome.REJECTED),
        ("not_applicable", VoidOutcome.REJECTED),
        (None, None),
        ("", None),
        ("pondering", None),
    ],
)
def test_refund_statuses(refund_status, outcome):
    assert void_outcome(refund_status) is outcome


# -- rates and money ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("7.58", "USD", 758),
        ("5.93000", "USD", 593),
        ("0.1", "usd", 10),
        ("12", "USD", 1200),
        ("7.585", "USD", 759),
        ("1200", "JPY", 1200),
        ("1.234", "KWD", 1234),
        ("0", "USD", 0),
    ],
)
def test_minor_units_are_exact(amount, currency, minor):
    assert minor_units(amount, currency) == minor


@pytest.mark.parametrize("amount", ["", "seven", "NaN", "Infinity", "-1.00"])
def test_minor_units_refuse_what_is_not_an_amount(amount):
    with pytest.raises(ValueError, match="rate"):
        minor_units(amount, "USD")


RATES = (
    Rate("rate_1", "USPS", "GroundAdvantage", "6.57", "USD"),
    Rate("rate_2", "USPS", "Priority", "9.02", "USD"),
    Rate("rate_3", "UPS", "Ground", "10.24", "USD"),
    Rate("rate_4", "UPS", "NextDayAir", "46.10", "USD"),
    Rate("rate_5", "FedEx", "Ground", "not a price", "USD"),
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (RateRule(), "rate_1"),
        (RateRule(carriers=("ups",)), "rate_3"),
        (RateRule(services=("Priority", "NextDayAir")), "rate_2"),
        (RateRule(carriers=("UPS",), services=("nextdayair",)), "rate_4"),
        (RateRule(fixed_service=("UPS", "NextDayAir")), "rate_4"),
        (RateRule(carriers=("FedEx",)), None),  # its only rate has no readable price
        (RateRule(fixed_service=("USPS", "Express")), None),
    ],
)
def test_the_rule_chooses_the_cheapest_allowed_rate(rule, expected):
    chosen = choose_rate(RATES, rule)
    assert (chosen.id if chosen else None) == expected


def test_ties_are_broken_the_same_way_every_time():
    tied = [Rate("rate_b", "UPS", "Ground", "5.00", "USD"), Rate("rate_a", "USPS", "First", "5.0", "USD")]
    assert choose_rate(tied, RateRule()).id == choose_rate(list(reversed(tied)), RateRule()).id == "rate_b"


def test_no_rate_cause_names_the_rule():
    assert no_rate_cause(RateRule(carriers=("FedEx",)), 4, 1) == (
        "no rate for carriers FedEx services any (EasyPost offered 4 rates; 1 carrier could not rate the parcel)"
    )
    assert no_rate_cause(RateRule(fixed_service=("UPS", "Ground")), 1, 0) == (
        "no rate for UPS Ground (EasyPost offered 1 rate)"
    )


# -- JSON views --------------------------------------------------------------------------------------------------------


def test_label_urls_by_format():
    label = PostageLabel("https://x/l.png", None, "https://x/l.zpl", "image/png")
    assert label.url_for("PNG") == "https://x/l.png"
    assert label.url_for("ZPL") == "https://x/l.zpl"
    assert label.url_for("PDF") is None
    pdf = PostageLabel("https://x/l.pdf", None, None, "application/pdf")
    assert pdf.url_for("PDF") == "https://x/l.pdf"
    assert pdf.label_url_format == "PDF"
    assert PostageLabel("https://x/l", None, None, None).url_for("PNG") == "https://x/l"


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        ([], "not a JSON object"),
        ({"object": "Tracker", "id": "trk_1"}, "not a shipment"),
        ({"object": "Shipment"}, "has no id"),
        ({"id": "shp_1", "rates": "many"}, "rates is not a list"),
        ({"id": "shp_1", "selected_rate": {"id": "rate_1"}}, "rate has no carrier"),
    ],
)
def test_a_malformed_shipment_is_named(answer, cause):
    with pytest.raises(MalformedError, match=cause):
        parse_shipment(answer)


def test_an_unreadable_rate_does_not_cost_the_others():
    shipment = parse_shipment({"id": "shp_1", "rates": [{"id": "rate_1"}, {"id": "rate_2", **RATE_FIELDS}]})
    assert [rate.id for rate in shipment.rates] == ["rate_2"]
    assert not shipment.bought


RATE_FIELDS = {"carrier": "USPS", "service": "Priority", "rate": "7.58", "currency": "USD"}


def test_a_tracker_reads_as_an_update_oldest_event_first():
    tracker = {
        "id": "trk_1",
        "object": "Tracker",
        "tracking_code": "9400",
        "status": "in_transit",
        "status_detail": "arrived_at_facility",
        "est_delivery_date": "2026-05-12T18:00:00Z",
        "tracking_details": [
            {
                "datetime": "2026-05-10T08:00:00Z",
                "status": "in_transit",
                "message": "Arrived at facility",
                "tracking_location": {"city": "MEMPHIS", "state": "TN", "country": "US", "zip": "38118"},
            },
            {"datetime": "2026-05-09T08:00:00", "status": "pre_transit", "message": "Label created"},
        ],
    }
    update = tracking_update(parse_tracker(tracker))
    assert update.tracking_number == "9400"
    assert update.state is TrackingState.IN_TRANSIT
    assert [event.state for event in update.events] == [TrackingState.PRE_TRANSIT, TrackingState.IN_TRANSIT]
    assert update.events[0].at == datetime(2026, 5, 9, 8, tzinfo=UTC)  # no zone given: UTC
    assert update.events[0].place is None
    assert update.events[1].place == "MEMPHIS, TN, US"  # never the ZIP
    assert update.at == datetime(2026, 5, 10, 8, tzinfo=UTC)
    assert update.estimated_delivery == datetime(2026, 5, 12, 18, tzinfo=UTC)
    assert update.detail == "Arrived at facility"


def test_a_tracker_without_events_has_no_time():
    update = tracking_update(parse_tracker({"id": "trk_1", "tracking_code": "X", "status": "unknown"}))
    assert update.at is None
    assert update.events == ()


# -- error classes -----------------------------------------------------------------------------------------------------


def _body(code: str, message: str, errors: list[object] | None = None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "errors": errors or []}})


def test_timeouts_connection_errors_and_non_json_bodies_are_transient():
    assert isinstance(classify(SdkTimeoutError("Request timed out.")), TransientError)
    assert isinstance(classify(HttpError("connection refused")), TransientError)
    malformed = classify(JsonError("Invalid response from API: <html>"), status=200)
    assert isinstance(malformed, TransientError)
    assert "malformed" in malformed.cause
    assert "<html>" not in malformed.cause


def test_429_is_transient_with_its_retry_after():
    failure = classify(
        RateLimitError("slow down", http_status=429, http_body=_body("RATE_LIMITED", "slow down")), retry_after=2.0
    )
    assert isinstance(failure, TransientError)
    assert failure.retry_after == 2.0
    assert failure.status == 429


@pytest.mark.parametrize(
    "exc",
    [
        InternalServerError("boom", http_status=500, http_body=_body("INTERNAL_SERVER_ERROR", "boom")),
        GatewayTimeoutError("late", http_status=504, http_body=_body("GATEWAY_TIMEOUT", "late")),
        PaymentError("no funds", http_status=402, http_body=_body("PAYMENT.REQUIRED", "no funds")),
        InvalidRequestError(
            "carrier silent", http_status=422, http_body=_body("SHIPMENT.POSTAGE.NO_RESPONSE", "carrier silent")
        ),
    ],
)
def test_server_errors_and_unknown_outcomes_are_transient(exc):
    assert isinstance(classify(exc), TransientError)


def test_a_bad_key_is_fatal():
    failure = classify(UnauthorizedError("bad key", http_status=401, http_body=_body("APIKEY.INACTIVE", "bad key")))
    assert isinstance(failure, FatalError)


def test_a_422_is_refused_in_easyposts_words_without_the_address():
    errors = [
        {"field": "zip", "message": "ZIP code 90210 was not found", "suggestion": "1 ELM ST"},
        {"field": "street1", "message": "House number is missing"},
        "plain string error",
    ]
    exc = InvalidRequestError(
        "Unable to verify address.",
        http_status=422,
        http_body=_body("ADDRESS.VERIFY.FAILURE", "Unable to verify address.", errors),
    )
    failure = classify(exc, private=["90210", "Elm St", "Jo"])
    assert isinstance(failure, RefusedError)
    assert failure.code == "ADDRESS.VERIFY.FAILURE"
    assert failure.cause == (
        "ADDRESS.VERIFY.FAILURE: Unable to verify address. (zip: ZIP code [redacted] was not found; "
        "street1: House number is missing; plain string error)"
    )
    assert "ELM" not in failure.cause  # EasyPost's suggestion is a corrected address: never repeated


def test_a_404_is_refused():
    failure = classify(NotFoundError("not found", http_status=404, http_body=_body("NOT_FOUND", "not found")))
    assert isinstance(failure, RefusedError)
    assert failure.status == 404


def test_scrub_is_case_insensitive_and_bounded():
    assert scrub("Jane DOE at 1 main st, Austin", ["jane doe", "1 Main St", "TX"]) == "[redacted] at [redacted], Austin"
    assert len(scrub("x" * 1000, [])) == MAX_CAUSE


def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# -- the configuration -------------------------------------------------------------------------------------------------

WAREHOUSE = Address(
    name="Returns Centre", line1="100 Warehouse Way", city="Reno", region="NV", postal_code="89502", country="US"
)


def test_the_configuration_never_shows_its_key_or_address():
    config = EasyPostConfig(api_key="EZAK_secret", warehouse=WAREHOUSE)
    assert "EZAK_secret" not in repr(config)
    assert "Warehouse Way" not in repr(config)


@pytest.mark.parametrize(("changes", "cause"), [({"api_key": ""}, "API key"), ({"concurrency": 0}, "concurrency")])
def test_the_configuration_refuses_nonsense(changes, cause):
    with pytest.raises(ValueError, match=cause):
        EasyPostConfig(**{"api_key": "k", "warehouse": WAREHOUSE, **changes})


# -- webhooks ----------------------------------------------------------------------------------------------------------

SECRET = "sécret-ﬁ"  # noqa: S105 - a test secret; non-ASCII and a ligature: EasyPost NFKD-normalises the key
BODY = b'{"object": "Event"}'


def test_the_right_signature_is_accepted():
    assert verify_signature(BODY, sign(BODY, SECRET), SECRET)
    # NFKD: the ligature and its two letters are the same key
    assert verify_signature(BODY, sign(BODY, "se\u0301cret-fi"), SECRET)


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        (BODY + b" ", sign(BODY, SECRET), SECRET),  # tampered body
        (BODY, sign(BODY, "another"), SECRET),  # wrong secret
        (BODY, None, SECRET),  # no header
        (BODY, "", SECRET),
        (BODY, sign(BODY, SECRET).removeprefix("hmac-sha256-hex="), SECRET),  # not EasyPost's form
        (BODY, "hmac-sha256-hex=é", SECRET),  # not even ASCII
        (BODY, sign(BODY, ""), ""),  # an empty secret would let anyone sign
    ],
)
def test_anything_else_is_refused(body, header, secret):
    assert not verify_signature(body, header, secret)


def test_a_signed_body_that_is_not_json_still_has_a_good_signature():
    assert verify_signature(b"not json", sign(b"not json", SECRET), SECRET)


def _fake_tracker(status: str = "in_transit") -> dict[str, object]:
    state = FakeEasyPostState(clock=FakeClock())
    _, tracker = state.create_tracker({"tracker": {"tracking_code": "EZ2000000002", "carrier": "USPS"}})
    assert tracker["status"] == status
    return tracker


def test_a_tracker_event_parses_to_its_id_and_update():
    event = tracker_event(_fake_tracker())
    event_id, update = parse_tracker_event(json.dumps(event).encode())
    assert event_id == event["id"]
    assert event_id.startswith("evt_")
    assert update.tracking_number == "EZ2000000002"
    assert update.state is TrackingState.IN_TRANSIT
    assert [e.state for e in update.events] == [TrackingState.PRE_TRANSIT, TrackingState.IN_TRANSIT]


def _event(**changes: object) -> bytes:
    return json.dumps({**tracker_event(_fake_tracker()), **changes}).encode()


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (_event(object="Shipment"), "not an EasyPost Event"),
        (_event(id=""), "no id"),
        (_event(description="shipment.purchased"), "not a tracker event: 'shipment.purchased'"),
        (_event(result=None), "the tracker is not a JSON object"),
        (_event(result={"object": "Tracker", "id": "trk_1", "status": "delivered"}), "has no tracking_code"),
        (_event(result={"object": "Refund", "id": "rfnd_1"}), "not a tracker"),
        (
            _event(result={"id": "trk_1", "tracking_code": "X", "status": "x", "tracking_details": [{"datetime": 5}]}),
            "datetime is not a timestamp",
        ),
    ],
)
def test_a_malformed_event_is_refused_with_its_cause(body, cause):
    with pytest.raises(ValueError, match=cause):
        parse_tracker_event(body)
