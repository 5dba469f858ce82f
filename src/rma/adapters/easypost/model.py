"""Narrow, typed views of the EasyPost JSON this adapter reads: shipments, rates, postage labels, forms, trackers.

The SDK hands back untyped objects; they are turned into plain dicts (`to_dict`) and read here, field by field, so
a missing or mistyped field is a `MalformedError` with the field named, never an AttributeError deep in the adapter.
Addresses are deliberately not read: nothing downstream needs them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

Json = Mapping[str, object]


class MalformedError(ValueError):
    """EasyPost's answer lacks a field the adapter needs, or has it in the wrong shape."""


def as_object(value: object, what: str) -> Json:
    if not isinstance(value, Mapping):
        raise MalformedError(f"{what} is not a JSON object")
    return value


def _text(data: Json, key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedError(f"{what} has no {key}")
    return value


def _optional_text(data: Json, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _objects(data: Json, key: str) -> list[Json]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedError(f"{key} is not a list")
    return [item for item in value if isinstance(item, Mapping)]


def parse_time(value: object, what: str) -> datetime:
    """An EasyPost timestamp ("2024-01-24T00:07:25Z"), always timezone-aware (UTC when it names no zone)."""
    if not isinstance(value, str):
        raise MalformedError(f"{what} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedError(f"{what} is not an ISO-8601 timestamp") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rate:
    id: str
    carrier: str
    service: str
    amount: str  # a decimal string, e.g. "7.58"
    currency: str


def parse_rate(data: Json) -> Rate:
    return Rate(
        id=_text(data, "id", "rate"),
        carrier=_text(data, "carrier", "rate"),
        service=_text(data, "service", "rate"),
        amount=_text(data, "rate", "rate"),
        currency=_optional_text(data, "currency") or "USD",
    )


# The MIME types EasyPost gives in `label_file_type` for the `label_url` document.
_MIME = {"PDF": "application/pdf", "ZPL": "application/zpl", "PNG": "image/png"}
_FORMATS = {mime: label_format for label_format, mime in _MIME.items()}


@dataclass(frozen=True, slots=True)
class PostageLabel:
    label_url: str | None
    pdf_url: str | None
    zpl_url: str | None
    file_type: str | None

    def url_for(self, label_format: str) -> str | None:
        """Where the label is in this format, if EasyPost has made it: the format's own URL, or `label_url` when
        that is the format (PNG always is, unless EasyPost says otherwise)."""
        own = {"PDF": self.pdf_url, "ZPL": self.zpl_url}.get(label_format)
        if own:
            return own
        if self.label_url is None:
            return None
        if self.file_type is None:
            return self.label_url if label_format == "PNG" else None
        return self.label_url if self.file_type.lower() == _MIME.get(label_format) else None

    @property
    def label_url_format(self) -> str | None:
        """The format of the `label_url` document, as far as EasyPost says."""
        if self.label_url is None:
            return None
        return _FORMATS.get((self.file_type or "image/png").lower())


def parse_postage_label(data: Json) -> PostageLabel:
    return PostageLabel(
        label_url=_optional_text(data, "label_url"),
        pdf_url=_optional_text(data, "label_pdf_url"),
        zpl_url=_optional_text(data, "label_zpl_url"),
        file_type=_optional_text(data, "label_file_type"),
    )


@dataclass(frozen=True, slots=True)
class Form:
    form_type: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Shipment:
    id: str
    reference: str | None
    rates: tuple[Rate, ...]
    selected_rate: Rate | None
    postage_label: PostageLabel | None
    tracking_code: str | None
    tracker_id: str | None
    refund_status: str | None
    forms: tuple[Form, ...] = ()
    carrier_messages: int = 0  # how many carriers could not rate it (their words may quote the address: not kept)

    @property
    def bought(self) -> bool:
        return self.postage_label is not None or self.selected_rate is not None


def parse_shipment(value: object) -> Shipment:
    data = as_object(value, "the shipment")
    if data.get("object") not in {None, "Shipment"}:
        raise MalformedError("the answer is not a shipment")
    rates: list[Rate] = []
    for rate in _objects(data, "rates"):
        try:
            rates.append(parse_rate(rate))
        except MalformedError:
            continue  # one unreadable rate must not cost the purchase of another
    selected = data.get("selected_rate")
    label = data.get("postage_label")
    tracker = data.get("tracker")
    return Shipment(
        id=_text(data, "id", "the shipment"),
        reference=_optional_text(data, "reference"),
        rates=tuple(rates),
        selected_rate=parse_rate(as_object(selected, "selected_rate")) if selected is not None else None,
        postage_label=parse_postage_label(as_object(label, "postage_label")) if label is not None else None,
        tracking_code=_optional_text(data, "tracking_code"),
        tracker_id=_optional_text(as_object(tracker, "tracker"), "id") if tracker is not None else None,
        refund_status=_optional_text(data, "refund_status"),
        forms=tuple(
            Form(form_type=_optional_text(form, "form_type") or "", url=_optional_text(form, "form_url"))
            for form in _objects(data, "forms")
        ),
        carrier_messages=len(_objects(data, "messages")),
    )


@dataclass(frozen=True, slots=True)
class TrackingDetail:
    at: datetime
    status: str
    status_detail: str | None
    message: str
    city: str | None = None
    state: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Tracker:
    id: str
    tracking_code: str
    carrier: str | None
    status: str
    status_detail: str | None
    est_delivery_date: datetime | None
    details: tuple[TrackingDetail, ...]  # oldest first


def _detail(data: Json) -> TrackingDetail:
    location = data.get("tracking_location")
    place = as_object(location, "tracking_location") if location is not None else {}
    return TrackingDetail(
        at=parse_time(data.get("datetime"), "a tracking detail's datetime"),
        status=_optional_text(data, "status") or "unknown",
        status_detail=_optional_text(data, "status_detail"),
        message=_optional_text(data, "message") or _optional_text(data, "description") or "",
        city=_optional_text(place, "city"),
        state=_optional_text(place, "state"),
        country=_optional_text(place, "country"),
    )


def parse_tracker(value: object) -> Tracker:
    data = as_object(value, "the tracker")
    if data.get("object") not in {None, "Tracker"}:
        raise MalformedError("the answer is not a tracker")
    estimate = data.get("est_delivery_date")
    details = sorted((_detail(item) for item in _objects(data, "tracking_details")), key=lambda d: d.at)
    return Tracker(
        id=_text(data, "id", "the tracker"),
        tracking_code=_text(data, "tracking_code", "the tracker"),
        carrier=_optional_text(data, "carrier"),
        status=_text(data, "status", "the tracker"),
        status_detail=_optional_text(data, "status_detail"),
        est_delivery_date=parse_time(estimate, "est_delivery_date") if estimate is not None else None,
        details=tuple(details),
    )
