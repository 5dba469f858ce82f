"""The Carrier port on EasyPost: return shipments, their labels, voids and tracking, through the official SDK.

Errors. Each request of a call runs on its own (on a thread pool) and ends one of three ways:
- answered: a reference, a label, a void outcome or a tracking update;
- refused for good (`LabelRefused`, with EasyPost's words for why): a 4xx other than 429 (an address EasyPost cannot
  ship from, a parameter) or no rate the rule allows; a person must look at the return;
- failed: transiently (429, 5xx, timeouts, connection errors, a malformed answer) or fatally (401/403: the key).
A failed request is left out of the answer: nothing it may have made at EasyPost is lost, since the next attempt
finds it (a bought label is found on its shipment), and the others' answers still reach the caller, who commits them.
Only when no request of the call was answered does the call raise `ProviderError` (transient unless a fatal failure
is among them). So keys missing from an answer were not done this time and are retried; this holds for every method.

Idempotency. Opening a shipment buys nothing, so a repeat after a lost answer costs nothing but an unused shipment.
A purchase always looks the shipment up first and answers the label already on it; a purchase raced by an earlier
attempt whose answer was lost (EasyPost's SHIPMENT.POSTAGE.EXISTS) answers that label too: never a second one.

Personal data: addresses go to EasyPost and nowhere else. Log lines carry ids (idempotency key, shipment id) and
EasyPost's codes; refusal causes are scrubbed of the request's address values.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from types import TracebackType
from typing import Self, TypeVar
from urllib.parse import urlsplit

import httpx

from rma.adapters.easypost.api import EasyPostApi
from rma.adapters.easypost.config import EasyPostConfig
from rma.adapters.easypost.errors import (
    CallError,
    EasyPostProviderError,
    FatalError,
    RefusedError,
    TransientError,
)
from rma.adapters.easypost.model import MalformedError, PostageLabel, Rate, Shipment, parse_shipment, parse_tracker
from rma.adapters.easypost.rates import choose_rate, minor_units, no_rate_cause
from rma.adapters.easypost.statuses import tracking_update, void_outcome
from rma.domain.requests import Address
from rma.logging import error_summary, get_logger
from rma.ports.providers import (
    Label,
    LabelRefused,
    LabelRequest,
    LabelToVoid,
    TrackedParcel,
    TrackingUpdate,
    VoidOutcome,
)

T = TypeVar("T")
P = TypeVar("P")

_log = get_logger(__name__)
_ALREADY_BOUGHT = "SHIPMENT.POSTAGE.EXISTS"
_QR_FORM = "label_qr_code"
_MAX_DOCUMENT = 20 * 1024 * 1024


def _read(parse: Callable[[object], P], answer: object) -> P:
    try:
        return parse(answer)
    except MalformedError as exc:
        raise TransientError(f"malformed EasyPost answer: {exc}") from None


def _address(address: Address, *, phone: str | None = None, email: str | None = None) -> dict[str, str]:
    fields = {
        "name": address.name,
        "street1": address.line1,
        "street2": address.line2 or "",
        "city": address.city,
        "state": address.region or "",
        "zip": address.postal_code,
        "country": str(address.country),
    }
    return fields | ({"phone": phone} if phone else {}) | ({"email": email} if email else {})


def _private(address: Address) -> list[str]:
    return [value for value in (address.name, address.line1, address.line2, address.city, address.postal_code) if value]


def _weight(weight_oz: float) -> float:
    # EasyPost weighs in ounces to one decimal; round up so a parcel is never declared lighter than it is.
    return max(0.1, math.ceil(weight_oz * 10 - 1e-9) / 10)


def _looks_like(label_format: str, content: bytes) -> bool:
    if label_format == "PDF":
        return content.startswith(b"%PDF-")
    if label_format == "PNG":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    return b"^XA" in content[:4096]  # ZPL: a label format starts with ^XA


_OPENED_KEPT = 10_000


class EasyPostCarrier:
    name = "easypost"

    def __init__(
        self, config: EasyPostConfig, *, api: EasyPostApi | None = None, http: httpx.Client | None = None
    ) -> None:
        self._config = config
        self._api = api or EasyPostApi(
            api_key=config.api_key,
            api_base=config.api_base,
            timeout_seconds=config.timeout_seconds,
            throttle=config.throttle,
            retries_on_429=config.retries_on_429,
            max_retry_after_seconds=config.max_retry_after_seconds,
        )
        self._http = http or httpx.Client(timeout=config.timeout_seconds, follow_redirects=True)
        self._api_host = urlsplit(config.api_base).netloc
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # Shipments opened here and not bought yet (bounded: one whose purchase never comes is forgotten in time).
        self._opened: OrderedDict[str, Shipment] = OrderedDict()
        self._opened_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EasyPostCarrier({self._config!r})"

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- the port ----------------------------------------------------------------------------------------------------

    def open_shipments(self, requests: Sequence[LabelRequest]) -> dict[str, str | LabelRefused]:
        """One EasyPost return shipment per request: its id, or why EasyPost refused it (including no rate the rule
        allows). Keys missing from the answer failed transiently and were not opened this time."""
        tasks = {request.idempotency_key: partial(self._open, request) for request in requests}
        answers, failures = self._fan_out(tasks)
        return self._settle("open shipments", answers, failures)

    def buy_labels(self, requests: Sequence[LabelRequest]) -> dict[str, Label | LabelRefused]:
        """The label of each request's shipment, bought by the rule, or the one bought on it before (refused if that
        one was voided since: a new shipment is needed)."""
        unopened = [request.idempotency_key for request in requests if not request.provider_ref]
        if unopened:
            raise ValueError(f"buy_labels needs an opened shipment for every request; none for {unopened}")
        tasks = {request.idempotency_key: partial(self._buy, request) for request in requests}
        answers, failures = self._fan_out(tasks)
        return self._settle("buy labels", answers, failures)

    def void_labels(self, labels: Sequence[LabelToVoid]) -> dict[str, VoidOutcome]:
        """Ask EasyPost to refund each label; a shipment never bought (or unknown to this account) is NOT_BOUGHT."""
        tasks = {label.idempotency_key: partial(self._void, label.provider_ref) for label in labels}
        answers, failures = self._fan_out(tasks)
        return self._settle("void labels", answers, failures)

    def track(self, parcels: Sequence[TrackedParcel]) -> dict[str, TrackingUpdate]:
        """The tracker of each parcel, by tracking number; one EasyPost does not know is absent (and logged)."""
        tasks = {parcel.tracking_number: partial(self._track, parcel) for parcel in parcels}
        answers, failures = self._fan_out(tasks)
        found = self._settle("track parcels", answers, failures)
        return {number: update for number, update in found.items() if update is not None}

    # -- one request each --------------------------------------------------------------------------------------------

    def _open(self, request: LabelRequest) -> str | LabelRefused:
        try:
            answer = self._api.create_shipment(self._shipment_params(request), private=_private(request.ship_from))
        except RefusedError as refused:
            return self._refused(request.idempotency_key, f"EasyPost refused the shipment: {refused.cause}", refused)
        shipment = _read(parse_shipment, answer)
        if choose_rate(shipment.rates, self._config.rule) is None:
            cause = no_rate_cause(self._config.rule, len(shipment.rates), shipment.carrier_messages)
            return self._refused(request.idempotency_key, cause)
        _log.info("easypost_shipment_opened", idempotency_key=request.idempotency_key, shipment_id=shipment.id)
        with self._opened_lock:
            self._opened[shipment.id] = shipment
            while len(self._opened) > _OPENED_KEPT:
                self._opened.popitem(last=False)
        return shipment.id

    def _shipment_params(self, request: LabelRequest) -> dict[str, object]:
        config = self._config
        return {
            "is_return": True,
            # EasyPost's returns: the addresses go as for the outbound parcel (to = the customer, from = the returns
            # centre) and `is_return` has EasyPost swap them, so the label takes the parcel from the customer to us.
            "to_address": _address(request.ship_from),
            "from_address": _address(config.warehouse, phone=config.warehouse_phone, email=config.warehouse_email),
            "parcel": {"weight": _weight(request.weight_oz)},
            "reference": request.rma_number,
            "options": {
                "label_format": config.label_format,
                "label_size": config.label_size,
                "print_custom_1": request.rma_number,  # printed on the label: the warehouse matches the parcel by it
                # EasyPost keeps no metadata on a shipment: the attempt that opened it rides here, to be found again.
                "print_custom_2": request.idempotency_key,
            },
        }

    def _buy(self, request: LabelRequest) -> Label | LabelRefused:
        reference = request.provider_ref or ""
        private = _private(request.ship_from)
        try:
            # A shipment this process opened moments ago, with its rates, needs no look-up: nothing bought on it
            # yet (had another attempt bought it since, EasyPost refuses the purchase and `_purchase` looks it up).
            with self._opened_lock:
                opened = self._opened.pop(reference, None)
            shipment = opened if opened is not None else self._retrieve(reference, private)
            if not shipment.bought:
                rate = choose_rate(shipment.rates, self._config.rule)
                if rate is None:
                    cause = no_rate_cause(self._config.rule, len(shipment.rates), shipment.carrier_messages)
                    return self._refused(request.idempotency_key, cause)
                shipment = self._purchase(request.idempotency_key, reference, rate, private)
            elif void_outcome(shipment.refund_status) in {VoidOutcome.SUBMITTED, VoidOutcome.REFUNDED}:
                # Its label was voided: answering it would send a customer a dead label; buying again is not ours.
                cause = f"the label bought on {reference} was voided (refund {shipment.refund_status})"
                return self._refused(request.idempotency_key, cause)
            return self._label(shipment)
        except RefusedError as refused:
            return self._refused(request.idempotency_key, f"EasyPost refused the purchase: {refused.cause}", refused)

    def _retrieve(self, shipment_id: str, private: Sequence[str] = ()) -> Shipment:
        return _read(parse_shipment, self._api.retrieve_shipment(shipment_id, private=private))

    def _purchase(self, key: str, shipment_id: str, rate: Rate, private: Sequence[str]) -> Shipment:
        try:
            answer = self._api.buy_shipment(shipment_id, rate.id, private=private)
        except RefusedError as refused:
            if refused.code != _ALREADY_BOUGHT:
                raise
            # An earlier attempt bought it and its answer was lost after our look-up: that label, never a second.
            return self._retrieve(shipment_id, private)
        shipment = _read(parse_shipment, answer)
        if shipment.postage_label is None:
            raise TransientError(f"EasyPost answered the purchase of {shipment_id} without a postage label")
        _log.info(
            "easypost_label_bought",
            idempotency_key=key,
            shipment_id=shipment_id,
            carrier=rate.carrier,
            service=rate.service,
        )
        return shipment

    def _label(self, shipment: Shipment) -> Label:
        label, rate = shipment.postage_label, shipment.selected_rate
        if label is None:
            raise TransientError(f"the bought shipment {shipment.id} has no postage label")
        if not shipment.tracking_code:
            raise TransientError(f"the bought shipment {shipment.id} has no tracking code")
        if rate is None:
            raise TransientError(f"the bought shipment {shipment.id} has no selected rate")
        try:
            cost = minor_units(rate.amount, rate.currency)
        except ValueError as exc:
            raise TransientError(f"malformed EasyPost answer: {exc}") from None
        label_format, document = self._document(shipment.id, label)
        return Label(
            tracking_number=shipment.tracking_code,
            carrier=rate.carrier,
            label_format=label_format,
            document=document,
            cost=cost,
            service=rate.service,
            currency=rate.currency.upper(),
            provider_ref=shipment.id,
            qr_code=self._qr_code(shipment),
            tracker_ref=shipment.tracker_id,
        )

    def _document(self, shipment_id: str, label: PostageLabel) -> tuple[str, bytes]:
        wanted = self._config.label_format
        url = label.url_for(wanted)
        if url is None:
            try:
                converted = _read(parse_shipment, self._api.convert_label(shipment_id, wanted))
            except RefusedError:
                converted = None  # the carrier has no such format: the label as EasyPost made it, below
            if converted is not None and converted.postage_label is not None:
                url = converted.postage_label.url_for(wanted)
        if url is not None:
            return wanted, self._download(url, wanted)
        actual = label.label_url_format
        if label.label_url is not None and actual is not None:
            return actual, self._download(label.label_url, actual)
        raise TransientError(f"EasyPost gave no {wanted} label for {shipment_id}")

    def _qr_code(self, shipment: Shipment) -> bytes | None:
        url = next((form.url for form in shipment.forms if form.form_type == _QR_FORM and form.url), None)
        if url is None:
            return None
        content = self._fetch(url)
        if not _looks_like("PNG", content):
            # The port carries a PNG; a QR form in another format must not hold the label back.
            _log.warning("easypost_qr_form_not_png", shipment_id=shipment.id)
            return None
        return content

    def _download(self, url: str, label_format: str) -> bytes:
        content = self._fetch(url)
        if not _looks_like(label_format, content):
            raise TransientError(f"a downloaded label file is not a {label_format} document")
        return content

    def _fetch(self, url: str) -> bytes:
        if urlsplit(url).scheme not in {"http", "https"}:
            raise TransientError("EasyPost gave a document URL that is not HTTP(S)")
        if urlsplit(url).netloc == self._api_host:
            self._api.throttle()  # the provider's own host: the same account limit
        try:
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise TransientError(f"could not download a label file ({type(exc).__name__})") from None
        if response.status_code != httpx.codes.OK:
            raise TransientError(f"a label file answered HTTP {response.status_code}")
        content = response.content
        if not content or len(content) > _MAX_DOCUMENT:
            raise TransientError("a downloaded label file is empty or too large")
        return content

    def _void(self, shipment_id: str) -> VoidOutcome:
        try:
            shipment = _read(parse_shipment, self._api.refund_shipment(shipment_id))
        except RefusedError as refused:
            return self._void_refused(shipment_id, refused)
        outcome = void_outcome(shipment.refund_status)
        if outcome is None:
            raise TransientError(f"EasyPost answered the refund of {shipment_id} with no known refund_status")
        return outcome

    def _void_refused(self, shipment_id: str, refused: RefusedError) -> VoidOutcome:
        """EasyPost's refusal codes for a refund are not all documented, so the shipment itself decides."""
        if refused.status == httpx.codes.NOT_FOUND:
            return VoidOutcome.NOT_BOUGHT  # no such shipment on this account: nothing was bought on it
        try:
            shipment = self._retrieve(shipment_id)
        except RefusedError:
            return VoidOutcome.NOT_BOUGHT
        if not shipment.bought:
            return VoidOutcome.NOT_BOUGHT
        # Refunded or submitted before (a repeat), else refused: scanned already, or past the carrier's window.
        return void_outcome(shipment.refund_status) or VoidOutcome.REJECTED

    def _track(self, parcel: TrackedParcel) -> TrackingUpdate | None:
        try:
            answer = self._tracker(parcel)
        except RefusedError as refused:
            _log.warning("easypost_tracker_refused", tracking_number=parcel.tracking_number, code=refused.code)
            return None
        return tracking_update(_read(parse_tracker, answer), parcel.tracking_number)

    def _tracker(self, parcel: TrackedParcel) -> Mapping[str, object]:
        if parcel.tracker_ref:
            try:
                return self._api.retrieve_tracker(parcel.tracker_ref)
            except RefusedError as refused:
                if refused.status != httpx.codes.NOT_FOUND:
                    raise
        # EasyPost answers the existing tracker for a tracking code and carrier it already tracks.
        return self._api.create_tracker(parcel.tracking_number, parcel.carrier)

    # -- fan-out and the call's outcome ------------------------------------------------------------------------------

    def _refused(self, key: str, cause: str, refused: RefusedError | None = None) -> LabelRefused:
        _log.warning(
            "easypost_label_refused",
            idempotency_key=key,
            status=refused.status if refused else None,
            code=refused.code if refused else None,
        )
        return LabelRefused(cause)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                # Made on first use, so a forking worker makes its threads after the fork.
                self._pool = ThreadPoolExecutor(self._config.concurrency, thread_name_prefix="easypost")
            return self._pool

    def _fan_out(self, tasks: Mapping[str, Callable[[], T]]) -> tuple[dict[str, T], dict[str, CallError]]:
        if not tasks:
            return {}, {}
        pool = self._executor()
        futures: dict[str, Future[T]] = {key: pool.submit(task) for key, task in tasks.items()}
        wait(futures.values())  # every request settles before any answer or error leaves the call
        answers: dict[str, T] = {}
        failures: dict[str, CallError] = {}
        for key, future in futures.items():
            exc = future.exception()
            if exc is None:
                answers[key] = future.result()
            elif isinstance(exc, CallError):
                failures[key] = exc
            elif isinstance(exc, Exception):
                # A bug must not cost the other requests their answers (their shipments, their labels).
                _log.error("easypost_request_crashed", key=key, error=error_summary(exc))
                failures[key] = TransientError(f"unexpected error in the EasyPost adapter ({type(exc).__name__})")
            else:
                raise exc
        return answers, failures

    def _settle(self, operation: str, answers: dict[str, T], failures: Mapping[str, CallError]) -> dict[str, T]:
        for key, failure in failures.items():
            _log.warning(
                "easypost_request_failed",
                operation=operation,
                key=key,
                transient=not isinstance(failure, FatalError),
                status=failure.status,
                code=failure.code,
                cause=failure.cause,
            )
        if failures and not answers:
            fatal = next((f for f in failures.values() if isinstance(f, FatalError)), None)
            first = fatal or next(iter(failures.values()))
            hints = [f.retry_after for f in failures.values() if isinstance(f, TransientError) and f.retry_after]
            raise EasyPostProviderError(
                f"EasyPost could not {operation}: {first.cause} ({len(failures)} request(s), none answered)",
                transient=fatal is None,
                retry_after=max(hints) if hints else None,
            )
        return answers
