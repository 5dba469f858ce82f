"""The fake EasyPost's records and rules: shipments with rates, purchases, refunds, trackers on a fake clock.

Everything here is synchronous and guarded by one lock, so the ASGI app (one event loop) and a test thread may both
touch it. Answers are (HTTP status, JSON) in EasyPost's documented shapes; URLs are built from the base the request
came in on. Deterministic by design:
- rates: a fixed table priced by weight (`quote`);
- a bought parcel's tracker walks a fixed timeline from its purchase time, on the fake clock (`TIMELINE`);
- EasyPost's test tracking codes EZ1000000001 .. EZ7000000007 have their documented fixed statuses;
- a refund: rejected once the parcel was scanned (USPS: refund_status "rejected"; UPS: a 422), otherwise USPS is
  "submitted" and settles to "refunded" after `REFUND_SETTLES`, UPS is "refunded" at once.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

Json = dict[str, Any]
Answer = tuple[int, Json]

FORMATS: Final = {"PDF": ("pdf", "application/pdf"), "ZPL": ("zpl", "application/zpl"), "PNG": ("png", "image/png")}
# (carrier, service, base price, price per ounce, delivery days)
RATE_TABLE: Final = (
    ("USPS", "GroundAdvantage", Decimal("5.93"), Decimal("0.04"), 3),
    ("USPS", "Priority", Decimal("7.58"), Decimal("0.09"), 2),
    ("USPS", "Express", Decimal("31.25"), Decimal("0.20"), 1),
    ("UPS", "Ground", Decimal("9.12"), Decimal("0.07"), 4),
    ("UPS", "NextDayAir", Decimal("42.10"), Decimal("0.25"), 1),
)
# hours after the purchase, status, status_detail, message, scan place (None: the destination's city)
TIMELINE: Final = (
    (0, "pre_transit", "label_created", "Shipping Label Created, Awaiting Item", ("", "", "")),
    (12, "in_transit", "arrived_at_facility", "Accepted at Origin Facility", ("SPRINGFIELD", "IL", "US")),
    (30, "in_transit", "departed_facility", "Departed Regional Distribution Center", ("MEMPHIS", "TN", "US")),
    (54, "out_for_delivery", "out_for_delivery", "Out for Delivery", None),
    (60, "delivered", "arrived_at_destination", "Delivered, Front Desk/Reception", None),
)
DELIVERY_HOURS: Final = 60
# EasyPost's documented test tracking codes and their fixed statuses.
TEST_CODES: Final = {
    "EZ1000000001": "pre_transit",
    "EZ2000000002": "in_transit",
    "EZ3000000003": "out_for_delivery",
    "EZ4000000004": "delivered",
    "EZ5000000005": "return_to_sender",
    "EZ6000000006": "failure",
    "EZ7000000007": "unknown",
}
SCANNED: Final = frozenset(
    {"in_transit", "out_for_delivery", "delivered", "available_for_pickup", "return_to_sender", "failure"}
)
REFUND_SETTLES: Final = timedelta(days=2)
INVALID_ZIP: Final = "00000"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error(status: int, code: str, message: str, errors: list[Json] | None = None) -> Answer:
    return status, {"error": {"code": code, "message": message, "errors": errors or []}}


def quote(weight_oz: float) -> list[tuple[str, str, Decimal, int]]:
    """The fake's rates for a parcel: (carrier, service, price, delivery days)."""
    ounces = Decimal(max(1, math.ceil(weight_oz)))
    return [
        (carrier, service, (base + per_oz * ounces).quantize(Decimal("0.01"), ROUND_HALF_UP), days)
        for carrier, service, base, per_oz, days in RATE_TABLE
    ]


class FakeClock:
    """Real time, sped up by `speed` and moved on by `advance`: the fake's idea of now."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._origin = start or datetime.now(UTC)
        self._real = time.monotonic()
        self._speed = speed

    def now(self) -> datetime:
        with self._lock:
            return self._origin + timedelta(seconds=(time.monotonic() - self._real) * self._speed)

    def set_speed(self, speed: float) -> None:
        with self._lock:
            now = self._origin + timedelta(seconds=(time.monotonic() - self._real) * self._speed)
            self._origin, self._real, self._speed = now, time.monotonic(), speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._origin += timedelta(seconds=seconds)

    @property
    def speed(self) -> float:
        return self._speed


@dataclass
class Rate:
    id: str
    carrier: str
    service: str
    price: Decimal
    days: int


@dataclass
class Shipment:
    id: str
    created_at: datetime
    reference: str | None
    is_return: bool
    to_address: Json
    from_address: Json
    parcel: Json
    options: Json
    rates: list[Rate]
    selected_rate: Rate | None = None
    purchased_at: datetime | None = None
    tracking_code: str | None = None
    tracker_id: str | None = None
    refund_status: str | None = None
    refunded_at: datetime | None = None
    label_formats: set[str] = field(default_factory=set)
    qr_form: bool = False

    @property
    def destination(self) -> Json:
        # With is_return the parcel travels to the listed from_address (EasyPost swaps them on the label).
        return self.from_address if self.is_return else self.to_address

    @property
    def origin(self) -> Json:
        return self.to_address if self.is_return else self.from_address


@dataclass
class Detail:
    at: datetime
    status: str
    status_detail: str
    message: str
    place: tuple[str, str, str]


@dataclass
class Tracker:
    id: str
    tracking_code: str
    carrier: str
    created_at: datetime
    shipment_id: str | None = None
    pinned: list[Detail] = field(default_factory=list)  # statuses set through the control API, after the timeline


def _address_errors(address: object) -> list[Json]:
    if not isinstance(address, Mapping):
        return [{"field": "address", "message": "Address is required", "suggestion": None}]
    problems: list[Json] = []
    street = address.get("street1")
    if not isinstance(street, str) or not street.strip():
        problems.append({"field": "street1", "message": "House number is missing", "suggestion": None})
    postal = address.get("zip")
    if not isinstance(postal, str) or not postal.strip() or postal.strip() == INVALID_ZIP:
        # Carriers quote the value they refuse, and suggest a corrected address: the adapter must repeat neither.
        suggestion = f"{street} 1".upper() if isinstance(street, str) and street.strip() else None
        problems.append({"field": "zip", "message": f"ZIP code {postal} was not found", "suggestion": suggestion})
    return problems


class FakeEasyPostState:
    def __init__(self, *, clock: FakeClock | None = None, qr_forms: bool = True) -> None:
        self.lock = threading.RLock()
        self.clock = clock or FakeClock()
        self.qr_forms = qr_forms
        self._counter = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.shipments: dict[str, Shipment] = {}
            self.trackers: dict[str, Tracker] = {}
            self.trackers_by_code: dict[tuple[str, str], str] = {}
            self.purchases_per_shipment: Counter[str] = Counter()
            self.purchases_per_reference: Counter[str] = Counter()
            self.already_purchased_refusals = 0
            self.shipments_per_key: Counter[str] = Counter()
            self.refunds: dict[str, Json] = {}
            self.documents: dict[tuple[str, str], bytes] = {}

    # -- JSON --------------------------------------------------------------------------------------------------------

    def _rate_json(self, shipment: Shipment, rate: Rate) -> Json:
        return {
            "id": rate.id,
            "object": "Rate",
            "mode": "test",
            "created_at": iso(shipment.created_at),
            "updated_at": iso(shipment.created_at),
            "carrier": rate.carrier,
            "service": rate.service,
            "rate": str(rate.price),
            "currency": "USD",
            "retail_rate": str((rate.price * Decimal("1.2")).quantize(Decimal("0.01"))),
            "retail_currency": "USD",
            "list_rate": str(rate.price),
            "list_currency": "USD",
            "billing_type": "easypost",
            "delivery_days": rate.days,
            "est_delivery_days": rate.days,
            "delivery_date": None,
            "delivery_date_guaranteed": False,
            "shipment_id": shipment.id,
            "carrier_account_id": f"ca_{rate.carrier.lower()}fake",
        }

    def _label_json(self, shipment: Shipment, base: str) -> Json | None:
        if shipment.purchased_at is None:
            return None
        requested = str(shipment.options.get("label_format") or "PNG").upper()

        def url(label_format: str) -> str | None:
            if label_format not in shipment.label_formats:
                return None
            return f"{base}/files/labels/{shipment.id}.{FORMATS[label_format][0]}"

        return {
            "object": "PostageLabel",
            "id": f"pl_{shipment.id[4:]}",
            "created_at": iso(shipment.purchased_at),
            "updated_at": iso(shipment.purchased_at),
            "date_advance": 0,
            "integrated_form": "none",
            "label_date": iso(shipment.purchased_at),
            "label_resolution": 300,
            "label_size": shipment.options.get("label_size") or "4x6",
            "label_type": "default",
            "label_file_type": FORMATS[requested][1],
            "label_url": url(requested),
            "label_pdf_url": url("PDF"),
            "label_zpl_url": url("ZPL"),
            "label_epl2_url": None,
            "label_file": None,
        }

    def shipment_json(self, shipment: Shipment, base: str) -> Json:
        tracker = self.trackers.get(shipment.tracker_id or "")
        forms = (
            [
                {
                    "object": "Form",
                    "id": f"form_{shipment.id[4:]}",
                    "mode": "test",
                    "form_type": "label_qr_code",
                    "form_url": f"{base}/files/forms/{shipment.id}/label_qr_code.png",
                    "submitted_electronically": None,
                    "created_at": iso(shipment.purchased_at or shipment.created_at),
                    "updated_at": iso(shipment.purchased_at or shipment.created_at),
                }
            ]
            if shipment.qr_form
            else []
        )
        fees = (
            [
                {"object": "Fee", "type": "LabelFee", "amount": "0.00000", "charged": True, "refunded": False},
                {
                    "object": "Fee",
                    "type": "PostageFee",
                    "amount": f"{shipment.selected_rate.price:.5f}",
                    "charged": True,
                    "refunded": shipment.refund_status == "refunded",
                },
            ]
            if shipment.selected_rate is not None
            else []
        )
        tracker_json = self.tracker_json(tracker) if tracker is not None else None
        return {
            "id": shipment.id,
            "object": "Shipment",
            "mode": "test",
            "created_at": iso(shipment.created_at),
            "updated_at": iso(shipment.purchased_at or shipment.created_at),
            "is_return": shipment.is_return,
            "reference": shipment.reference,
            "status": tracker_json["status"] if tracker_json else "unknown",
            "to_address": shipment.to_address,
            "from_address": shipment.from_address,
            "return_address": shipment.from_address,
            "buyer_address": shipment.to_address,
            "parcel": shipment.parcel,
            "options": shipment.options,
            "rates": [self._rate_json(shipment, rate) for rate in shipment.rates],
            "selected_rate": self._rate_json(shipment, shipment.selected_rate) if shipment.selected_rate else None,
            "postage_label": self._label_json(shipment, base),
            "tracking_code": shipment.tracking_code,
            "tracker": tracker_json,
            "refund_status": shipment.refund_status,
            "forms": forms,
            "fees": fees,
            "messages": [],
            "batch_id": None,
            "batch_status": None,
            "batch_message": None,
            "customs_info": None,
            "insurance": None,
            "order_id": None,
            "scan_form": None,
            "usps_zone": 4,
        }

    def _details(self, tracker: Tracker) -> list[Detail]:
        now = self.clock.now()
        shipment = self.shipments.get(tracker.shipment_id or "")
        details: list[Detail] = []
        if shipment is not None and shipment.purchased_at is not None:
            bought = shipment.purchased_at
            destination = shipment.destination
            there = (
                str(destination.get("city", "")),
                str(destination.get("state", "")),
                str(destination.get("country", "")),
            )
            for hours, status, status_detail, message, place in TIMELINE:
                at = bought + timedelta(hours=hours)
                if at <= now:
                    details.append(Detail(at, status, status_detail, message, place or there))
        elif tracker.tracking_code in TEST_CODES:
            final = TEST_CODES[tracker.tracking_code]
            steps = ["pre_transit", "in_transit", "out_for_delivery", "delivered"]
            path = steps[: steps.index(final) + 1] if final in steps else ["pre_transit", "in_transit", final]
            if final == "unknown":
                path = []
            start = tracker.created_at - timedelta(days=len(path))
            details = [
                Detail(
                    start + timedelta(days=i), status, status, f"Test tracker: {status}", ("SAN FRANCISCO", "CA", "US")
                )
                for i, status in enumerate(path)
            ]
        if tracker.pinned:
            # A status set through the control API holds: the timeline stops where it was set.
            details = [d for d in details if d.at <= tracker.pinned[0].at]
        return details + tracker.pinned

    def tracker_status(self, tracker: Tracker) -> tuple[str, str]:
        details = self._details(tracker)
        return (details[-1].status, details[-1].status_detail) if details else ("unknown", "unknown")

    def tracker_json(self, tracker: Tracker) -> Json:
        details = self._details(tracker)
        status, status_detail = (details[-1].status, details[-1].status_detail) if details else ("unknown", "unknown")
        shipment = self.shipments.get(tracker.shipment_id or "")
        estimate = (
            iso(shipment.purchased_at + timedelta(hours=DELIVERY_HOURS))
            if shipment is not None and shipment.purchased_at is not None
            else None
        )
        return {
            "id": tracker.id,
            "object": "Tracker",
            "mode": "test",
            "tracking_code": tracker.tracking_code,
            "status": status,
            "status_detail": status_detail,
            "created_at": iso(tracker.created_at),
            "updated_at": iso(details[-1].at if details else tracker.created_at),
            "signed_by": None,
            "weight": None,
            "est_delivery_date": estimate,
            "shipment_id": tracker.shipment_id,
            "carrier": tracker.carrier,
            "tracking_details": [
                {
                    "object": "TrackingDetail",
                    "message": d.message,
                    "description": None,
                    "status": d.status,
                    "status_detail": d.status_detail,
                    "datetime": iso(d.at),
                    "source": tracker.carrier,
                    "carrier_code": None,
                    "tracking_location": {
                        "object": "TrackingLocation",
                        "city": d.place[0] or None,
                        "state": d.place[1] or None,
                        "country": d.place[2] or None,
                        "zip": None,
                    },
                }
                for d in details
            ],
            "carrier_detail": None,
            "finalized": status in {"delivered", "return_to_sender", "failure", "cancelled", "error"},
            "is_return": bool(shipment.is_return) if shipment is not None else False,
            "public_url": f"https://track.easypost.com/{tracker.id}",
            "fees": [{"object": "Fee", "type": "TrackerFee", "amount": "0.00000", "charged": False, "refunded": False}],
        }

    # -- the API -----------------------------------------------------------------------------------------------------

    def create_shipment(self, body: object, base: str) -> Answer:
        params = body.get("shipment") if isinstance(body, Mapping) else None
        if not isinstance(params, Mapping) or not params:
            return error(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter.",
                [{"field": "shipment", "message": "cannot be blank"}],
            )
        problems = _address_errors(params.get("to_address")) + _address_errors(params.get("from_address"))
        if problems:
            return error(422, "ADDRESS.VERIFY.FAILURE", "Unable to verify address.", problems)
        parcel = params.get("parcel")
        weight = parcel.get("weight") if isinstance(parcel, Mapping) else None
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
            return error(
                422,
                "PARCEL.PARAMETERS.INVALID",
                "Parcel weight must be greater than zero.",
                [{"field": "weight", "message": "must be greater than 0"}],
            )
        options = dict(params.get("options") or {})
        label_format = str(options.get("label_format") or "PNG").upper()
        if label_format not in FORMATS:
            return error(422, "SHIPMENT.POSTAGE.INVALID_FORMAT", f"Invalid label format {label_format}.")
        options |= {"label_format": label_format, "currency": "USD", "payment": {"type": "SENDER"}, "date_advance": 0}
        now = self.clock.now()
        with self.lock:
            shipment = Shipment(
                id=new_id("shp"),
                created_at=now,
                reference=params.get("reference") if isinstance(params.get("reference"), str) else None,
                is_return=bool(params.get("is_return")),
                to_address=self._address_json(params["to_address"], now),
                from_address=self._address_json(params["from_address"], now),
                parcel={
                    "id": new_id("prcl"),
                    "object": "Parcel",
                    "mode": "test",
                    "weight": float(weight),
                    "length": None,
                    "width": None,
                    "height": None,
                    "predefined_package": None,
                },
                options=options,
                rates=[Rate(new_id("rate"), c, s, price, days) for c, s, price, days in quote(float(weight))],
            )
            self.shipments[shipment.id] = shipment
            key = options.get("print_custom_2")
            if isinstance(key, str) and key:
                self.shipments_per_key[key] += 1
            return 201, self.shipment_json(shipment, base)

    @staticmethod
    def _address_json(address: Mapping[str, Any], now: datetime) -> Json:
        return {
            "id": new_id("adr"),
            "object": "Address",
            "mode": "test",
            "created_at": iso(now),
            "updated_at": iso(now),
            **address,
        }

    def _find(self, shipment_id: str) -> Shipment | None:
        return self.shipments.get(shipment_id) or next(
            (s for s in self.shipments.values() if s.reference == shipment_id), None
        )

    def get_shipment(self, shipment_id: str, base: str) -> Answer:
        with self.lock:
            shipment = self._find(shipment_id)
            if shipment is None:
                return error(404, "NOT_FOUND", "The requested resource could not be found.")
            self._settle_refund(shipment)
            return 200, self.shipment_json(shipment, base)

    def buy(self, shipment_id: str, body: object, base: str) -> Answer:
        with self.lock:
            shipment = self._find(shipment_id)
            if shipment is None:
                return error(404, "NOT_FOUND", "The requested resource could not be found.")
            if shipment.purchased_at is not None:
                self.already_purchased_refusals += 1
                return error(422, "SHIPMENT.POSTAGE.EXISTS", "Shipment already has postage purchased.")
            rate_param = body.get("rate") if isinstance(body, Mapping) else None
            rate_id = rate_param.get("id") if isinstance(rate_param, Mapping) else None
            if not isinstance(rate_id, str):
                return error(
                    422,
                    "PARAMETER.REQUIRED",
                    "Missing required parameter.",
                    [{"field": "rate", "message": "cannot be blank"}],
                )
            rate = next((r for r in shipment.rates if r.id == rate_id), None)
            if rate is None:
                return error(422, "SHIPMENT.INVALID_PARAMS", "The rate given is not a rate of this shipment.")
            number = next(self._counter)
            shipment.selected_rate = rate
            shipment.purchased_at = self.clock.now()
            shipment.tracking_code = f"9400111{number:015d}" if rate.carrier == "USPS" else f"1Z999AA1{number:010d}"
            shipment.label_formats = {str(shipment.options["label_format"])}
            shipment.qr_form = self.qr_forms and rate.carrier == "USPS"
            tracker = Tracker(new_id("trk"), shipment.tracking_code, rate.carrier, shipment.purchased_at, shipment.id)
            self.trackers[tracker.id] = tracker
            self.trackers_by_code[(tracker.tracking_code, tracker.carrier.upper())] = tracker.id
            shipment.tracker_id = tracker.id
            self.purchases_per_shipment[shipment.id] += 1
            self.purchases_per_reference[shipment.reference or ""] += 1
            return 200, self.shipment_json(shipment, base)

    def convert_label(self, shipment_id: str, file_format: str, base: str) -> Answer:
        with self.lock:
            shipment = self._find(shipment_id)
            if shipment is None:
                return error(404, "NOT_FOUND", "The requested resource could not be found.")
            if shipment.purchased_at is None:
                return error(422, "SHIPMENT.POSTAGE.REQUIRED", "The shipment has no postage label to convert.")
            wanted = file_format.upper()
            if wanted not in FORMATS:
                return error(422, "SHIPMENT.POSTAGE.INVALID_FORMAT", f"Invalid label format {wanted}.")
            shipment.label_formats.add(wanted)
            return 200, self.shipment_json(shipment, base)

    def _scanned(self, shipment: Shipment) -> bool:
        tracker = self.trackers.get(shipment.tracker_id or "")
        return tracker is not None and self.tracker_status(tracker)[0] in SCANNED

    def _settle_refund(self, shipment: Shipment) -> None:
        if (
            shipment.refund_status == "submitted"
            and shipment.refunded_at is not None
            and self.clock.now() - shipment.refunded_at >= REFUND_SETTLES
        ):
            shipment.refund_status = "refunded"
            self.refunds[shipment.id]["status"] = "refunded"

    def refund(self, shipment_id: str, base: str) -> Answer:
        with self.lock:
            shipment = self._find(shipment_id)
            if shipment is None:
                return error(404, "NOT_FOUND", "The requested resource could not be found.")
            record = self.refunds.setdefault(
                shipment.id, {"requests": 0, "status": None, "reference": shipment.reference}
            )
            record["requests"] += 1
            if shipment.purchased_at is None or shipment.selected_rate is None:
                record["status"] = "not_bought"
                return error(422, "SHIPMENT.REFUND.UNAVAILABLE", "The shipment has no postage to refund.")
            self._settle_refund(shipment)
            if shipment.refund_status in {"submitted", "refunded"}:
                return 200, self.shipment_json(shipment, base)  # a repeat answers the refund already under way
            if self._scanned(shipment):
                if shipment.selected_rate.carrier != "USPS":
                    record["status"] = "unavailable"
                    return error(
                        422, "SHIPMENT.REFUND.UNAVAILABLE", "Unable to request refund. The parcel has been shipped."
                    )
                shipment.refund_status = "rejected"
            else:
                shipment.refund_status = "submitted" if shipment.selected_rate.carrier == "USPS" else "refunded"
                shipment.refunded_at = self.clock.now()
            record["status"] = shipment.refund_status
            return 200, self.shipment_json(shipment, base)

    def create_tracker(self, body: object) -> Answer:
        params = body.get("tracker") if isinstance(body, Mapping) else None
        code = params.get("tracking_code") if isinstance(params, Mapping) else None
        if not isinstance(code, str) or not code.strip():
            return error(
                422,
                "TRACKER.INVALID_PARAMS",
                "A tracking code is required.",
                [{"field": "tracking_code", "message": "cannot be blank"}],
            )
        carrier = params.get("carrier") if isinstance(params, Mapping) else None
        with self.lock:
            known = next((s for s in self.shipments.values() if s.tracking_code == code), None)
            carrier_name = (
                carrier
                if isinstance(carrier, str) and carrier
                else (known.selected_rate.carrier if known and known.selected_rate else "USPS")
            )
            existing = self.trackers_by_code.get((code, carrier_name.upper()))
            if existing is not None:
                return 200, self.tracker_json(self.trackers[existing])  # EasyPost answers the tracker it already has
            tracker = Tracker(new_id("trk"), code, carrier_name, self.clock.now(), known.id if known else None)
            self.trackers[tracker.id] = tracker
            self.trackers_by_code[(code, carrier_name.upper())] = tracker.id
            return 201, self.tracker_json(tracker)

    def get_tracker(self, tracker_id: str) -> Answer:
        with self.lock:
            tracker = self.trackers.get(tracker_id)
            if tracker is None:
                return error(404, "NOT_FOUND", "The requested resource could not be found.")
            return 200, self.tracker_json(tracker)

    def list_trackers(self, tracking_code: str | None) -> Answer:
        with self.lock:
            found = [t for t in self.trackers.values() if tracking_code is None or t.tracking_code == tracking_code]
            return 200, {"trackers": [self.tracker_json(t) for t in found], "has_more": False}

    # -- control -----------------------------------------------------------------------------------------------------

    def pin_tracker(self, tracker_id: str, status: str, status_detail: str | None, message: str | None) -> Json | None:
        with self.lock:
            tracker = self.trackers.get(tracker_id)
            if tracker is None:
                return None
            tracker.pinned.append(
                Detail(
                    self.clock.now(),
                    status,
                    status_detail or status,
                    message or f"Status: {status}",
                    ("RENO", "NV", "US"),
                )
            )
            return self.tracker_json(tracker)

    def snapshot(self) -> Json:
        with self.lock:
            return {
                "shipments": {
                    "created": len(self.shipments),
                    "per_idempotency_key": dict(self.shipments_per_key),
                },
                "purchases": {
                    "total": sum(self.purchases_per_shipment.values()),
                    "per_shipment": dict(self.purchases_per_shipment),
                    "per_reference": dict(self.purchases_per_reference),
                    "refused_already_purchased": self.already_purchased_refusals,
                },
                "refunds": {shipment_id: dict(record) for shipment_id, record in self.refunds.items()},
                "trackers": {"created": len(self.trackers)},
                # Every bought label as the account's records have it, for an audit to check ours against.
                "labels": [
                    {
                        "reference": shipment.reference or "",
                        "tracking_code": shipment.tracking_code,
                        "refunded": shipment.refund_status in {"submitted", "refunded"},
                    }
                    for shipment in self.shipments.values()
                    if shipment.purchased_at is not None and shipment.tracking_code is not None
                ],
            }


class RequestLog:
    """Arrivals (monotonic seconds) per endpoint, for the requests-per-second histogram."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.started = time.monotonic()
            self.arrivals: list[float] = []
            self.by_endpoint: Counter[str] = Counter()
            self.answered_429 = 0
            self.rate_limited = 0
            self.faults: Counter[str] = Counter()
            self._second = -1
            self._admitted = 0

    def arrive(self, endpoint: str, *, api: bool = True) -> float:
        """Count a request; `api=False` for the file host's, which the account's rate does not count."""
        now = time.monotonic()
        with self.lock:
            if api:
                self.arrivals.append(now)
            self.by_endpoint[endpoint] += 1
        return now

    def admit(self, now: float, per_second: float | None) -> float | None:
        """None if the account limit lets this request through, else the Retry-After to answer (seconds). The limit
        counts requests per clock second, as a provider's per-second quota does."""
        with self.lock:
            second = int(now - self.started)
            if self._second != second:
                self._second, self._admitted = second, 0
            if per_second is not None and self._admitted >= per_second:
                self.rate_limited += 1
                return max(0.0, self.started + second + 1 - now)
            self._admitted += 1
            return None

    def snapshot(self) -> Json:
        with self.lock:
            arrivals = list(self.arrivals)
            per_second = Counter(int(t - self.started) for t in arrivals)
            busiest, low = 0, 0
            for high, moment in enumerate(arrivals):  # arrivals are in order: a sliding 1-second window
                while arrivals[low] <= moment - 1.0:
                    low += 1
                busiest = max(busiest, high - low + 1)
            return {
                "total": len(arrivals),
                "by_endpoint": dict(self.by_endpoint),
                "per_second": {str(second): count for second, count in sorted(per_second.items())},
                "max_in_any_second": busiest,
                "answered_429": self.answered_429,
                "rate_limited": self.rate_limited,
                "faults": dict(self.faults),
            }
