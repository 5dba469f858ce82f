"""The EasyPost carrier against the fake EasyPost API (in this process, on loopback): never the internet."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from rma.adapters.easypost import (
    EasyPostCarrier,
    EasyPostConfig,
    EasyPostProviderError,
    RateRule,
    parse_tracker_event,
    verify_signature,
)
from rma.adapters.easypost.fake_server import FakeEasyPost
from rma.adapters.easypost.fake_state import quote
from rma.domain.requests import Address
from rma.ports.providers import (
    Label,
    LabelRefused,
    LabelRequest,
    LabelToVoid,
    TrackedParcel,
    TrackingState,
    VoidOutcome,
)

API_KEY = "EZTK_fake"
WAREHOUSE = Address(
    name="Returns Centre", line1="100 Warehouse Way", city="Reno", region="NV", postal_code="89502", country="US"
)
CUSTOMER = Address(
    name="Jane Doe", line1="17 Juniper Lane", city="Austin", region="TX", postal_code="78701", country="US"
)
_keys = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeEasyPost]:
    with FakeEasyPost(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeEasyPost) -> FakeEasyPost:
    server.reset()
    server.clear_faults()
    return server


class CountingThrottle:
    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1


@pytest.fixture
def throttle() -> CountingThrottle:
    return CountingThrottle()


@pytest.fixture
def make_carrier(fake: FakeEasyPost, throttle: CountingThrottle) -> Iterator[object]:
    made: list[EasyPostCarrier] = []

    def make(**changes: object) -> EasyPostCarrier:
        config = EasyPostConfig(
            api_key=API_KEY,
            api_base=fake.api_base,
            warehouse=WAREHOUSE,
            timeout_seconds=1.0,
            concurrency=4,
            throttle=throttle,
            retries_on_429=0,
        )
        carrier = EasyPostCarrier(replace(config, **changes))
        made.append(carrier)
        return carrier

    yield make
    for carrier in made:
        carrier.close()


@pytest.fixture
def carrier(make_carrier) -> EasyPostCarrier:
    return make_carrier()


def request(weight_oz: float = 16, ship_from: Address = CUSTOMER) -> LabelRequest:
    n = next(_keys)
    return LabelRequest(
        idempotency_key=f"label:{n}", rma_number=f"RMA-{n:05d}", ship_from=ship_from, weight_oz=weight_oz
    )


def opened(carrier: EasyPostCarrier, *requests: LabelRequest) -> list[LabelRequest]:
    refs = carrier.open_shipments(requests)
    assert all(isinstance(ref, str) for ref in refs.values()), refs
    return [replace(r, provider_ref=refs[r.idempotency_key]) for r in requests]


def bought(carrier: EasyPostCarrier, *requests: LabelRequest) -> dict[str, Label]:
    labels = carrier.buy_labels(opened(carrier, *requests))
    assert all(isinstance(label, Label) for label in labels.values()), labels
    return {key: label for key, label in labels.items() if isinstance(label, Label)}


def price(carrier_name: str, service: str, weight_oz: float = 16) -> int:
    return next(int(p * 100) for c, s, p, _ in quote(weight_oz) if (c, s) == (carrier_name, service))


def barcodes(image: Image.Image) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(image)]


def pdf_barcodes(document: bytes) -> list[str]:
    pdf = pypdfium2.PdfDocument(document)
    try:
        assert len(pdf) == 1
        return barcodes(pdf[0].render(scale=3, grayscale=True).to_pil())
    finally:
        pdf.close()


# -- buying ------------------------------------------------------------------------------------------------------------


def test_one_label_per_request_at_the_cheapest_rate_with_its_document(fake, carrier, throttle):
    requests = opened(carrier, request(), request(), request(weight_oz=40.2))
    labels = carrier.buy_labels(requests)

    assert set(labels) == {r.idempotency_key for r in requests}
    heavy = labels[requests[2].idempotency_key]
    assert isinstance(heavy, Label)
    assert (heavy.carrier, heavy.service, heavy.cost, heavy.currency) == (
        "USPS",
        "GroundAdvantage",
        price("USPS", "GroundAdvantage", 40.2),
        "USD",
    )
    for r in requests:
        label = labels[r.idempotency_key]
        assert isinstance(label, Label)
        assert label.label_format == "PDF"
        assert pdf_barcodes(label.document) == [label.tracking_number]
        assert label.provider_ref == r.provider_ref
        assert (label.tracker_ref or "").startswith("trk_")
        assert label.qr_code is not None
        assert label.tracking_number in barcodes(Image.open(io.BytesIO(label.qr_code)))[0]
    stats = fake.stats()
    assert stats["purchases"]["total"] == 3
    assert stats["purchases"]["per_reference"] == {r.rma_number: 1 for r in requests}
    # each attempt can be traced: the idempotency key rides on the shipment
    assert stats["shipments"]["per_idempotency_key"] == {r.idempotency_key: 1 for r in requests}
    # every HTTP request to EasyPost's API went through the throttle; label files come from a host apart (as
    # EasyPost's storage is), outside the API's limit
    files = stats["requests"]["by_endpoint"]["file"]
    assert files == 6  # a label and a QR code each
    assert throttle.calls == stats["requests"]["total"]  # the account's count, files apart


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (RateRule(carriers=("UPS",)), ("UPS", "Ground")),
        (RateRule(services=("Priority", "Express")), ("USPS", "Priority")),
        (RateRule(fixed_service=("UPS", "NextDayAir")), ("UPS", "NextDayAir")),
    ],
)
def test_the_rate_rule_is_followed(make_carrier, rule, expected):
    (label,) = bought(make_carrier(rule=rule), request()).values()
    assert (label.carrier, label.service) == expected
    assert label.cost == price(*expected)


def test_no_rate_the_rule_allows_is_refused_when_opening(make_carrier, fake):
    answer = make_carrier(rule=RateRule(carriers=("FedEx",))).open_shipments([r := request()])
    assert answer == {
        r.idempotency_key: LabelRefused("no rate for carriers FedEx services any (EasyPost offered 5 rates)")
    }
    assert fake.stats()["purchases"]["total"] == 0


def test_no_rate_the_rule_allows_is_refused_when_buying(make_carrier, fake):
    (r,) = opened(make_carrier(), request())
    answer = make_carrier(rule=RateRule(fixed_service=("USPS", "Media"))).buy_labels([r])
    assert answer == {r.idempotency_key: LabelRefused("no rate for USPS Media (EasyPost offered 5 rates)")}
    assert fake.stats()["purchases"]["total"] == 0


@pytest.mark.parametrize("label_format", ["ZPL", "PNG"])
def test_zpl_and_png_labels(make_carrier, label_format):
    (label,) = bought(make_carrier(label_format=label_format), request()).values()
    assert label.label_format == label_format
    if label_format == "ZPL":
        assert label.document.startswith(b"^XA")
        assert label.tracking_number.encode() in label.document
    else:
        assert barcodes(Image.open(io.BytesIO(label.document))) == [label.tracking_number]


def test_a_format_the_shipment_was_not_opened_with_is_converted(make_carrier):
    (r,) = opened(make_carrier(label_format="PDF"), request())
    (label,) = make_carrier(label_format="ZPL").buy_labels([r]).values()
    assert isinstance(label, Label)
    assert label.label_format == "ZPL"
    assert label.document.startswith(b"^XA")


def test_requests_run_concurrently(make_carrier, fake):
    fake.set_faults(latency={"create": [0.5, 0.5]})
    started = time.monotonic()
    refs = make_carrier(concurrency=8).open_shipments([request() for _ in range(8)])
    assert len(refs) == 8
    assert time.monotonic() - started < 2.5  # 8 x 0.5 s one after another would be 4 s


def test_buying_needs_an_opened_shipment(carrier):
    with pytest.raises(ValueError, match="opened shipment"):
        carrier.buy_labels([request()])


# -- idempotency -------------------------------------------------------------------------------------------------------


def test_buying_again_answers_the_same_label_and_buys_nothing(fake, carrier):
    (r,) = opened(carrier, request())
    first = carrier.buy_labels([r])[r.idempotency_key]
    again = carrier.buy_labels([r])[r.idempotency_key]
    assert again == first
    stats = fake.stats()
    assert stats["purchases"]["per_shipment"] == {r.provider_ref: 1}
    assert stats["purchases"]["per_reference"] == {r.rma_number: 1}


def test_a_voided_label_is_not_answered_again(make_carrier, fake):
    carrier = make_carrier(rule=RateRule(carriers=("UPS",)))
    (r,) = opened(carrier, request())
    label = carrier.buy_labels([r])[r.idempotency_key]
    assert isinstance(label, Label)
    assert _void(carrier, r.idempotency_key, label) is VoidOutcome.REFUNDED
    assert carrier.buy_labels([r]) == {
        r.idempotency_key: LabelRefused(f"the label bought on {r.provider_ref} was voided (refund refunded)")
    }
    assert fake.stats()["purchases"]["total"] == 1


def test_a_purchase_whose_answer_was_lost_is_found_not_bought_again(fake, carrier):
    (r,) = opened(carrier, request())
    fake.set_faults(rate_timeout=1.0, timeout_seconds=2.0, endpoints=["buy"])
    with pytest.raises(EasyPostProviderError, match="did not answer in time") as raised:
        carrier.buy_labels([r])
    assert raised.value.transient
    fake.clear_faults()
    label = carrier.buy_labels([r])[r.idempotency_key]
    assert isinstance(label, Label)
    assert fake.stats()["purchases"]["per_shipment"] == {r.provider_ref: 1}


@pytest.mark.parametrize(
    ("kind", "cause"),
    [("html", "malformed EasyPost answer"), ("missing_fields", "without a postage label"), ("truncated", "malformed")],
)
def test_a_malformed_answer_to_a_purchase_is_transient_and_the_retry_buys_nothing(fake, carrier, kind, cause):
    (r,) = opened(carrier, request())
    fake.set_faults(rate_malformed=1.0, malformed_kind=kind, endpoints=["buy"])
    with pytest.raises(EasyPostProviderError, match=cause) as raised:
        carrier.buy_labels([r])
    assert raised.value.transient
    fake.clear_faults()
    assert isinstance(carrier.buy_labels([r])[r.idempotency_key], Label)
    assert fake.stats()["purchases"]["total"] == 1


def test_a_label_file_that_fails_to_download_is_transient(fake, carrier):
    (r,) = opened(carrier, request())
    fake.set_faults(rate_5xx=1.0, endpoints=["file"])
    with pytest.raises(EasyPostProviderError, match="label file answered HTTP 500"):
        carrier.buy_labels([r])
    fake.clear_faults()
    assert isinstance(carrier.buy_labels([r])[r.idempotency_key], Label)
    assert fake.stats()["purchases"]["total"] == 1


# -- transient failures ------------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_transient_and_a_later_call_succeeds(fake, carrier):
    fake.set_faults(rate_429=1.0, retry_after=1, endpoints=["create"])
    with pytest.raises(EasyPostProviderError, match="429") as raised:
        carrier.open_shipments([r := request()])
    assert raised.value.transient
    assert raised.value.retry_after == 1.0
    assert fake.stats()["requests"]["answered_429"] == 1
    fake.clear_faults()
    assert isinstance(carrier.open_shipments([r])[r.idempotency_key], str)


def test_requests_over_the_account_limit_are_left_out_and_the_rest_answered(fake, carrier):
    fake.set_rate_limit(1)
    requests = [request() for _ in range(3)]
    answer = carrier.open_shipments(requests)
    assert len(answer) == 1  # one got through this second; the others are absent, to be retried
    assert all(isinstance(ref, str) for ref in answer.values())
    assert fake.stats()["requests"]["rate_limited"] == 2


def test_429s_are_retried_within_the_call_after_retry_after(fake, make_carrier):
    fake.set_rate_limit(2)
    requests = [request() for _ in range(4)]
    answer = make_carrier(retries_on_429=3).open_shipments(requests)
    assert set(answer) == {r.idempotency_key for r in requests}
    assert fake.stats()["requests"]["answered_429"] >= 2


@pytest.mark.parametrize("operation", ["open", "buy", "void", "track"])
def test_server_errors_are_transient(fake, carrier, operation):
    labels = bought(carrier, r := request())
    label = labels[r.idempotency_key]
    fake.set_faults(rate_5xx=1.0)
    calls = {
        "open": lambda: carrier.open_shipments([request()]),
        "buy": lambda: carrier.buy_labels([replace(r, provider_ref=label.provider_ref)]),
        "void": lambda: carrier.void_labels([LabelToVoid(r.idempotency_key, label.provider_ref or "", None)]),
        "track": lambda: carrier.track([TrackedParcel(label.tracking_number, label.carrier, label.tracker_ref)]),
    }
    with pytest.raises(EasyPostProviderError) as raised:
        calls[operation]()
    assert raised.value.transient
    fake.clear_faults()
    assert calls[operation]()


def test_a_timeout_opening_a_shipment_is_transient_and_costs_only_an_unused_shipment(fake, carrier):
    fake.set_faults(rate_timeout=1.0, timeout_seconds=2.0, endpoints=["create"])
    with pytest.raises(EasyPostProviderError, match="did not answer in time"):
        carrier.open_shipments([r := request()])
    fake.clear_faults()
    assert isinstance(carrier.open_shipments([r])[r.idempotency_key], str)
    assert fake.stats()["shipments"]["per_idempotency_key"] == {r.idempotency_key: 2}


def test_a_read_timeout_on_a_look_up_is_not_retried_unseen(fake, carrier, make_carrier):
    (r,) = opened(carrier, request())
    fake.set_faults(rate_timeout=1.0, timeout_seconds=1.5, endpoints=["retrieve"])
    started = time.monotonic()
    with pytest.raises(EasyPostProviderError, match="did not answer in time"):
        make_carrier().buy_labels([r])  # another process: it must look the shipment up
    assert time.monotonic() - started < 2.5  # the SDK alone would try the GET four times
    assert fake.stats()["requests"]["by_endpoint"]["retrieve"] == 1


def test_a_shipment_opened_by_this_process_is_bought_without_a_look_up(fake, carrier):
    (r,) = opened(carrier, request())
    label = carrier.buy_labels([r])[r.idempotency_key]
    assert isinstance(label, Label)
    assert fake.stats()["requests"]["by_endpoint"].get("retrieve", 0) == 0
    assert fake.stats()["purchases"]["total"] == 1


def test_a_bad_api_key_fails_the_call_for_good(make_carrier):
    with pytest.raises(EasyPostProviderError, match="401") as raised:
        make_carrier(api_key="EZTK_wrong").open_shipments([request()])
    assert not raised.value.transient


# -- refusals ----------------------------------------------------------------------------------------------------------


def test_an_address_easypost_cannot_verify_is_refused_in_its_words_quoting_nothing_personal(fake, carrier):
    nowhere = CUSTOMER.model_copy(update={"postal_code": "00000"})
    answer = carrier.open_shipments([r := request(ship_from=nowhere)])
    refused = answer[r.idempotency_key]
    assert isinstance(refused, LabelRefused)
    assert refused.cause == (
        "EasyPost refused the shipment: ADDRESS.VERIFY.FAILURE: Unable to verify address. "
        "(zip: ZIP code [redacted] was not found)"
    )
    for personal in ("00000", "Juniper", "JUNIPER", "Jane", "Austin"):
        assert personal not in refused.cause
    assert fake.stats()["shipments"]["created"] == 0


def test_a_refusal_leaves_the_other_requests_answered(carrier):
    good, bad = request(), request(ship_from=CUSTOMER.model_copy(update={"postal_code": "00000"}))
    answer = carrier.open_shipments([good, bad])
    assert isinstance(answer[good.idempotency_key], str)
    assert isinstance(answer[bad.idempotency_key], LabelRefused)


def test_an_unknown_shipment_is_refused_when_buying(carrier):
    answer = carrier.buy_labels([replace(r := request(), provider_ref="shp_nosuchshipment")])
    assert answer == {
        r.idempotency_key: LabelRefused(
            "EasyPost refused the purchase: NOT_FOUND: The requested resource could not be found."
        )
    }


# -- voids -------------------------------------------------------------------------------------------------------------


def _void(carrier: EasyPostCarrier, key: str, label: Label) -> VoidOutcome:
    return carrier.void_labels([LabelToVoid(key, label.provider_ref or "", label.tracking_number)])[key]


def test_an_unused_ups_label_is_refunded(make_carrier, fake):
    carrier = make_carrier(rule=RateRule(carriers=("UPS",)))
    ((key, label),) = bought(carrier, request()).items()
    assert _void(carrier, key, label) is VoidOutcome.REFUNDED
    assert _void(carrier, key, label) is VoidOutcome.REFUNDED  # a repeat answers the same
    assert fake.stats()["refunds"][label.provider_ref]["status"] == "refunded"


def test_an_unused_usps_label_is_submitted_then_refunded(fake, carrier):
    ((key, label),) = bought(carrier, request()).items()
    assert _void(carrier, key, label) is VoidOutcome.SUBMITTED
    fake.advance_clock(timedelta(days=3).total_seconds())
    assert _void(carrier, key, label) is VoidOutcome.REFUNDED


@pytest.mark.parametrize("rule", [RateRule(carriers=("USPS",)), RateRule(carriers=("UPS",))])
def test_a_scanned_label_is_rejected(fake, make_carrier, rule):
    carrier = make_carrier(rule=rule)
    ((key, label),) = bought(carrier, request()).items()
    fake.set_tracker_status(label.tracker_ref or "", "in_transit", message="Accepted at origin")
    assert _void(carrier, key, label) is VoidOutcome.REJECTED  # USPS answers "rejected", UPS a 422


def test_a_shipment_never_bought_has_nothing_to_void(carrier):
    (r,) = opened(carrier, request())
    unknown = LabelToVoid("label:unknown", "shp_nosuchshipment", None)
    answer = carrier.void_labels([LabelToVoid(r.idempotency_key, r.provider_ref or "", None), unknown])
    assert answer == {r.idempotency_key: VoidOutcome.NOT_BOUGHT, "label:unknown": VoidOutcome.NOT_BOUGHT}


# -- tracking ----------------------------------------------------------------------------------------------------------

TEST_CODES = {
    "EZ1000000001": TrackingState.PRE_TRANSIT,
    "EZ2000000002": TrackingState.IN_TRANSIT,
    "EZ3000000003": TrackingState.OUT_FOR_DELIVERY,
    "EZ4000000004": TrackingState.DELIVERED,
    "EZ5000000005": TrackingState.RETURNED_TO_SENDER,
    "EZ6000000006": TrackingState.FAILURE,
    "EZ7000000007": TrackingState.UNKNOWN,
}


def test_easyposts_test_tracking_codes_map_to_their_states(carrier):
    updates = carrier.track([TrackedParcel(code, "USPS") for code in TEST_CODES])
    assert {code: update.state for code, update in updates.items()} == TEST_CODES
    assert updates["EZ7000000007"].at is None
    assert updates["EZ4000000004"].events[-1].place == "SAN FRANCISCO, CA, US"


@pytest.mark.parametrize(
    ("status", "detail", "state"),
    [
        ("available_for_pickup", None, TrackingState.AVAILABLE_FOR_PICKUP),
        ("cancelled", None, TrackingState.CANCELLED),
        ("error", None, TrackingState.ERROR),
        ("failure", "lost", TrackingState.LOST),
        ("in_transit", "damaged", TrackingState.DAMAGED),
    ],
)
def test_the_other_statuses_map_too(fake, carrier, status, detail, state):
    (label,) = bought(carrier, request()).values()
    fake.set_tracker_status(label.tracker_ref or "", status, status_detail=detail, message=f"Carrier says {status}")
    update = carrier.track([TrackedParcel(label.tracking_number, label.carrier, label.tracker_ref)])[
        label.tracking_number
    ]
    assert update.state is state
    assert update.detail == f"Carrier says {status}"


def test_a_bought_parcel_travels_to_the_warehouse(fake, carrier):
    (label,) = bought(carrier, request()).values()
    parcel = TrackedParcel(label.tracking_number, label.carrier, label.tracker_ref)
    first = carrier.track([parcel])[label.tracking_number]
    assert first.state is TrackingState.PRE_TRANSIT
    fake.advance_clock(timedelta(hours=61).total_seconds())
    update = carrier.track([parcel])[label.tracking_number]
    assert update.state is TrackingState.DELIVERED
    assert [e.state for e in update.events] == [
        TrackingState.PRE_TRANSIT,
        TrackingState.IN_TRANSIT,
        TrackingState.IN_TRANSIT,
        TrackingState.OUT_FOR_DELIVERY,
        TrackingState.DELIVERED,
    ]
    assert update.at == update.events[-1].at
    assert update.estimated_delivery == first.estimated_delivery == update.events[-1].at
    assert update.events[1].place == "SPRINGFIELD, IL, US"
    assert update.events[-1].place == "Reno, NV, US"  # the returns centre, never the customer's town
    assert all("Austin" not in (e.place or "") for e in update.events)


def test_a_parcel_without_a_tracker_ref_or_with_a_stale_one_is_found_by_its_code(fake, carrier):
    (label,) = bought(carrier, request()).values()
    parcels = [
        TrackedParcel(label.tracking_number, label.carrier),
        TrackedParcel(label.tracking_number, label.carrier, "trk_stale"),
    ]
    for parcel in parcels:
        assert carrier.track([parcel])[label.tracking_number].state is TrackingState.PRE_TRANSIT
    assert fake.stats()["trackers"]["created"] == 1  # EasyPost answered the tracker it already had


# -- webhooks ----------------------------------------------------------------------------------------------------------


def test_signed_tracker_events_are_verified_and_parsed(fake, carrier):
    (label,) = bought(carrier, request()).values()
    sent = fake.send_webhooks(fake.sink_url, "whsec_test", [label.tracker_ref or ""])
    assert [delivery["status_code"] for delivery in sent] == [200]
    (received,) = fake.webhooks_received()
    body = received["body"].encode()
    assert verify_signature(body, received["signature"], "whsec_test")
    assert not verify_signature(body, received["signature"], "whsec_other")
    assert not verify_signature(body.replace(b"pre_transit", b"delivered"), received["signature"], "whsec_test")
    event_id, update = parse_tracker_event(body)
    assert event_id == sent[0]["event_id"]
    assert (update.tracking_number, update.state) == (label.tracking_number, TrackingState.PRE_TRANSIT)


# -- the runner --------------------------------------------------------------------------------------------------------


def test_the_runner_serves_the_fake_in_a_subprocess():
    faults = {"latency": {"create": [0.0, 0.01]}, "rate_5xx": 0.0}
    with FakeEasyPost(api_key=API_KEY, rate_limit=50, faults=faults, in_process=False) as fake:
        assert fake.set_faults(rate_429=0.5)["latency"] == {"create": [0.0, 0.01]}
        config = EasyPostConfig(api_key=API_KEY, api_base=fake.api_base, warehouse=WAREHOUSE, timeout_seconds=2.0)
        with EasyPostCarrier(config) as carrier:
            fake.clear_faults()
            assert isinstance(carrier.open_shipments([r := request()])[r.idempotency_key], str)
        stats = fake.stats()
    assert stats["shipments"]["created"] == 1
    assert stats["requests"]["by_endpoint"] == {"create": 1}
    assert stats["requests"]["max_in_any_second"] == 1
