"""A fake EasyPost API (ASGI, Starlette) for tests and benchmarks: never the internet.

API (EasyPost's paths and JSON; `Authorization: Bearer <key>` or basic auth with the key as user):
    POST /v2/shipments, GET /v2/shipments/{id}, POST /v2/shipments/{id}/buy, POST /v2/shipments/{id}/refund,
    GET /v2/shipments/{id}/label?file_format=..., POST /v2/trackers, GET /v2/trackers[?tracking_code=],
    GET /v2/trackers/{id}; label files at GET /files/labels/{id}.{pdf|zpl|png}, QR forms at
    GET /files/forms/{id}/label_qr_code.png (files are not rate-limited: EasyPost serves them from elsewhere).

Control (no auth):
    GET/POST /_fake/faults        {"rate_429": 0.1, "retry_after": 1, "rate_5xx": 0.05, "rate_timeout": 0.02,
                                   "timeout_seconds": 5, "rate_malformed": 0.02, "malformed_kind": "html",
                                   "endpoints": ["buy"], "latency": {"buy": [0.3, 1.5], "default": [0, 0]}}
                                  (merged into the current faults, but a given latency table replaces the old one;
                                  "endpoints" limits the faults, empty = all API endpoints (files only if named);
                                  malformed_kind: html | truncated | missing_fields)
    POST /_fake/rate_limit        {"per_second": 50} (null: unlimited): above it, 429 with Retry-After
    GET/POST /_fake/clock         {"speed": 3600, "advance_seconds": 86400}: the fake clock trackers walk on
    POST /_fake/trackers/{id}/status  {"status": "available_for_pickup", "status_detail": ..., "message": ...}
    POST /_fake/webhooks/send     {"url": ..., "secret": ..., "tracker_ids": [...]}: signed tracker.updated events
    GET/POST /_fake/webhook_sink  a receiver that records what it is sent (for tests of the sender)
    GET /_fake/stats              purchases per shipment and per reference, refunds, shipments per idempotency key,
                                  requests per second and the busiest 1-second window, 429s answered, faults
    POST /_fake/reset             forget every record (faults and limits stay)

A timeout fault does the work and then holds the answer for `timeout_seconds` (the work is done, the answer lost);
a malformed fault does the work and answers garbage. Both are what makes a retry meet an already-bought shipment.

Run: python -m rma.adapters.easypost.fake_server --port 8099 [--rate-limit 50] [--latency buy=0.3:1.5] ...
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rma.adapters.easypost.fake_documents import LabelContent, label_pdf, label_png, label_zpl, qr_png
from rma.adapters.easypost.fake_state import (
    FORMATS,
    Answer,
    FakeClock,
    FakeEasyPostState,
    Json,
    RequestLog,
    error,
    iso,
    new_id,
)
from rma.adapters.easypost.webhook import SIGNATURE_HEADER, sign

MALFORMED_KINDS = ("html", "truncated", "missing_fields")
LATENCY_GROUPS = {"tracker_create": "track", "label": "buy"}


class SettingError(ValueError):
    """A fault or latency setting that cannot be applied; the message names it."""


@dataclass(frozen=True)
class Faults:
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    timeout_seconds: float = 5.0
    rate_malformed: float = 0.0
    malformed_kind: str = "html"
    endpoints: tuple[str, ...] = ()
    latency: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def merged(self, changes: Mapping[str, object]) -> Faults:
        """These faults with `changes` applied; ValueError names a bad key or value."""
        updates: dict[str, Any] = {}
        for key, value in changes.items():
            if key in {"rate_429", "rate_5xx", "rate_timeout", "rate_malformed"}:
                updates[key] = _number(key, value, upper=1.0)
            elif key in {"retry_after", "timeout_seconds"}:
                updates[key] = _number(key, value)
            elif key == "malformed_kind":
                if value not in MALFORMED_KINDS:
                    raise ValueError(f"malformed_kind must be one of {MALFORMED_KINDS}")
                updates[key] = value
            elif key == "endpoints":
                if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                    raise ValueError("endpoints must be a list of endpoint names")
                updates[key] = tuple(value)
            elif key == "latency":
                updates[key] = _latency(value)  # the whole table: what it does not name has no latency
            else:
                raise ValueError(f"unknown fault setting {key!r}")
        return replace(self, **updates)

    def applies(self, endpoint: str) -> bool:
        return endpoint in self.endpoints if self.endpoints else endpoint != "file"

    def delay(self, endpoint: str, draw: Callable[[float, float], float]) -> float:
        low, high = self.latency.get(
            endpoint, self.latency.get(LATENCY_GROUPS.get(endpoint, ""), self.latency.get("default", (0.0, 0.0)))
        )
        return draw(low, high) if high > 0 else 0.0

    def as_json(self) -> Json:
        return {
            "rate_429": self.rate_429,
            "retry_after": self.retry_after,
            "rate_5xx": self.rate_5xx,
            "rate_timeout": self.rate_timeout,
            "timeout_seconds": self.timeout_seconds,
            "rate_malformed": self.rate_malformed,
            "malformed_kind": self.malformed_kind,
            "endpoints": list(self.endpoints),
            "latency": {name: list(bounds) for name, bounds in self.latency.items()},
        }


def _number(key: str, value: object, upper: float | None = None) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative number")
    if upper is not None and value > upper:
        raise ValueError(f"{key} must be at most {upper}")
    return float(value)


def _latency(value: object) -> dict[str, tuple[float, float]]:
    if not isinstance(value, Mapping):
        raise SettingError("latency must map endpoint names to [low, high] seconds")
    bounds: dict[str, tuple[float, float]] = {}
    for name, pair in value.items():
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"latency of {name!r} must be [low, high] seconds")
        low, high = _number(f"latency {name}", pair[0]), _number(f"latency {name}", pair[1])
        if low > high:
            raise ValueError(f"latency of {name!r}: low above high")
        bounds[str(name)] = (low, high)
    return bounds


class FakeEasyPostApp:
    """The ASGI app and what it needs: the records, the request log, the faults, the account limit."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        faults: Faults | None = None,
        rate_limit: float | None = None,
        clock_speed: float = 1.0,
        clock_epoch: float | None = None,
        seed: int = 0,
        qr_forms: bool = True,
    ) -> None:
        self.api_key = api_key
        self.faults = faults or Faults()
        self.rate_limit = rate_limit
        self.state = FakeEasyPostState(clock=_clock(clock_speed, clock_epoch), qr_forms=qr_forms)
        self.log = RequestLog()
        self.sink: list[Json] = []
        self._random = random.Random(seed)  # noqa: S311 - fault draws, not secrets
        self._random_lock = threading.Lock()
        self.app = Starlette(routes=self._routes())

    def _routes(self) -> list[Route]:
        api = self._api
        return [
            Route("/v2/shipments", api("create", self._create_shipment), methods=["POST"]),
            Route("/v2/shipments/{id}", api("retrieve", self._get_shipment), methods=["GET"]),
            Route("/v2/shipments/{id}/buy", api("buy", self._buy), methods=["POST"]),
            Route("/v2/shipments/{id}/refund", api("refund", self._refund), methods=["POST"]),
            Route("/v2/shipments/{id}/label", api("label", self._convert_label), methods=["GET"]),
            Route("/v2/trackers", api("tracker_create", self._create_tracker), methods=["POST"]),
            Route("/v2/trackers", api("track", self._list_trackers), methods=["GET"]),
            Route("/v2/trackers/{id}", api("track", self._get_tracker), methods=["GET"]),
            Route("/files/labels/{name}", self._label_file, methods=["GET"]),
            Route("/files/forms/{id}/label_qr_code.png", self._qr_file, methods=["GET"]),
            Route("/_fake/faults", self._faults, methods=["GET", "POST"]),
            Route("/_fake/rate_limit", self._rate_limit, methods=["POST"]),
            Route("/_fake/clock", self._clock, methods=["GET", "POST"]),
            Route("/_fake/trackers/{id}/status", self._pin_tracker, methods=["POST"]),
            Route("/_fake/webhooks/send", self._send_webhooks, methods=["POST"]),
            Route("/_fake/webhook_sink", self._sink, methods=["GET", "POST"]),
            Route("/_fake/stats", self._stats, methods=["GET"]),
            Route("/_fake/reset", self._reset, methods=["POST"]),
        ]

    # -- the API's common path: accounting, auth, the account limit, latency, faults ---------------------------------

    def _draw(self) -> float:
        with self._random_lock:
            return self._random.random()

    def _uniform(self, low: float, high: float) -> float:
        with self._random_lock:
            return self._random.uniform(low, high)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            key = credentials.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(credentials).decode().partition(":")[0]
            except ValueError:
                return False
        else:
            return False
        return bool(key) and (self.api_key is None or key == self.api_key)

    def _api(
        self, endpoint: str, handler: Callable[[Request, str], Awaitable[Answer]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            arrived = self.log.arrive(endpoint)
            if not self._authorised(request):
                return _json(*error(401, "APIKEY.INACTIVE", "The API key is missing or not valid."))
            wait = self.log.admit(arrived, self.rate_limit)
            if wait is not None:
                return self._too_many(wait, "Account rate limit exceeded.")
            delay = self.faults.delay(endpoint, self._uniform)
            if delay:
                await asyncio.sleep(delay)
            if self.faults.applies(endpoint):
                faulty = await self._fault(request, handler)
                if faulty is not None:
                    return faulty
            return _json(*await handler(request, _base(request)))

        return serve

    async def _fault(self, request: Request, handler: Callable[[Request, str], Awaitable[Answer]]) -> Response | None:
        """The injected fault this request draws, if any."""
        faults = self.faults
        if self._draw() < faults.rate_429:
            self.log.faults["429"] += 1
            return self._too_many(faults.retry_after, "Too many requests.")
        if self._draw() < faults.rate_5xx:
            self.log.faults["5xx"] += 1
            return self._server_error()
        if self._draw() < faults.rate_timeout:
            self.log.faults["timeout"] += 1
            answer = await handler(request, _base(request))
            await asyncio.sleep(faults.timeout_seconds)  # done, but the answer comes too late
            return _json(*answer)
        if self._draw() < faults.rate_malformed:
            self.log.faults["malformed"] += 1
            return _malformed(await handler(request, _base(request)), faults.malformed_kind)
        return None

    def _too_many(self, retry_after: float, message: str) -> Response:
        with self.log.lock:
            self.log.answered_429 += 1
        status, body = error(429, "RATE_LIMITED", message)
        return JSONResponse(body, status_code=status, headers={"Retry-After": str(max(1, round(retry_after)))})

    def _server_error(self) -> Response:
        with self._random_lock:
            status = self._random.choice([500, 502, 503, 504])
        if status == 502:
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html")
        return _json(*error(status, "INTERNAL_SERVER_ERROR", "We're sorry, something went wrong."))

    # -- API handlers --------------------------------------------------------------------------------------------------

    async def _create_shipment(self, request: Request, base: str) -> Answer:
        body = await _body(request)
        return self.state.create_shipment(body, base) if body is not None else _unparseable()

    async def _get_shipment(self, request: Request, base: str) -> Answer:
        return self.state.get_shipment(request.path_params["id"], base)

    async def _buy(self, request: Request, base: str) -> Answer:
        body = await _body(request)
        return self.state.buy(request.path_params["id"], body, base) if body is not None else _unparseable()

    async def _refund(self, request: Request, base: str) -> Answer:
        return self.state.refund(request.path_params["id"], base)

    async def _convert_label(self, request: Request, base: str) -> Answer:
        return self.state.convert_label(request.path_params["id"], request.query_params.get("file_format", ""), base)

    async def _create_tracker(self, request: Request, _base_url: str) -> Answer:
        body = await _body(request)
        return self.state.create_tracker(body) if body is not None else _unparseable()

    async def _get_tracker(self, request: Request, _base_url: str) -> Answer:
        return self.state.get_tracker(request.path_params["id"])

    async def _list_trackers(self, request: Request, _base_url: str) -> Answer:
        return self.state.list_trackers(request.query_params.get("tracking_code"))

    # -- files ---------------------------------------------------------------------------------------------------------

    def _document(self, shipment_id: str, label_format: str) -> bytes | None:
        state = self.state
        with state.lock:
            shipment = state.shipments.get(shipment_id)
            if shipment is None or shipment.selected_rate is None or label_format not in shipment.label_formats:
                return None
            cached = state.documents.get((shipment_id, label_format))
            if cached is not None:
                return cached
            destination, origin = shipment.destination, shipment.origin
            content = LabelContent(
                tracking_code=shipment.tracking_code or "",
                carrier=shipment.selected_rate.carrier,
                service=shipment.selected_rate.service,
                reference=shipment.reference or "",
                ship_to=tuple(
                    str(destination.get(k) or "")
                    for k in ("name", "street1", "city", "state", "zip")
                    if destination.get(k)
                ),
                ship_from=tuple(str(origin.get(k) or "") for k in ("name", "city") if origin.get(k)),
            )
        render = {"PDF": label_pdf, "PNG": label_png, "ZPL": label_zpl}[label_format]
        document = render(content)
        with state.lock:
            state.documents[(shipment_id, label_format)] = document
        return document

    async def _file(self, produce: Callable[[], bytes | None], media_type: str) -> Response:
        self.log.arrive("file", api=False)
        faults = self.faults
        delay = faults.delay("file", self._uniform)
        if delay:
            await asyncio.sleep(delay)
        if faults.applies("file") and self._draw() < faults.rate_5xx:
            self.log.faults["5xx"] += 1
            return Response("<Error><Code>InternalError</Code></Error>", 500, media_type="application/xml")
        content = await run_in_threadpool(produce)  # rendering is CPU work: off the event loop
        if content is None:
            return Response("<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml")
        return Response(content, media_type=media_type)

    async def _label_file(self, request: Request) -> Response:
        shipment_id, _, extension = request.path_params["name"].rpartition(".")
        label_format = next((f for f, (ext, _) in FORMATS.items() if ext == extension), None)
        if label_format is None:
            return Response("<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml")
        return await self._file(lambda: self._document(shipment_id, label_format), FORMATS[label_format][1])

    async def _qr_file(self, request: Request) -> Response:
        shipment_id = request.path_params["id"]

        def produce() -> bytes | None:
            with self.state.lock:
                shipment = self.state.shipments.get(shipment_id)
                if shipment is None or not shipment.qr_form or not shipment.tracking_code:
                    return None
                payload = f"https://tools.usps.com/label-broker/{shipment.tracking_code}"
            return qr_png(payload)

        return await self._file(produce, "image/png")

    # -- control -------------------------------------------------------------------------------------------------------

    async def _faults(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            if not isinstance(body, Mapping):
                return JSONResponse({"error": "a JSON object of fault settings is expected"}, 400)
            try:
                self.faults = self.faults.merged(body)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(self.faults.as_json())

    async def _rate_limit(self, request: Request) -> Response:
        body = await _body(request)
        limit = body.get("per_second") if isinstance(body, Mapping) else None
        if limit is not None and (not isinstance(limit, int | float) or isinstance(limit, bool) or limit <= 0):
            return JSONResponse({"error": "per_second must be a positive number or null"}, 400)
        self.rate_limit = float(limit) if limit is not None else None
        return JSONResponse({"per_second": self.rate_limit})

    async def _clock(self, request: Request) -> Response:
        clock = self.state.clock
        if request.method == "POST":
            body = await _body(request)
            if not isinstance(body, Mapping):
                return JSONResponse({"error": "a JSON object is expected"}, 400)
            try:
                if "speed" in body:
                    clock.set_speed(_number("speed", body["speed"]))
                if "advance_seconds" in body:
                    clock.advance(_number("advance_seconds", body["advance_seconds"]))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"now": iso(clock.now()), "speed": clock.speed})

    async def _pin_tracker(self, request: Request) -> Response:
        body = await _body(request)
        status = body.get("status") if isinstance(body, Mapping) else None
        if not isinstance(body, Mapping) or not isinstance(status, str) or not status:
            return JSONResponse({"error": "a status is expected"}, 400)
        detail, message = body.get("status_detail"), body.get("message")
        tracker = self.state.pin_tracker(
            request.path_params["id"],
            status,
            detail if isinstance(detail, str) else None,
            message if isinstance(message, str) else None,
        )
        return JSONResponse(tracker) if tracker is not None else JSONResponse({"error": "no such tracker"}, 404)

    async def _send_webhooks(self, request: Request) -> Response:
        body = await _body(request)
        if (
            not isinstance(body, Mapping)
            or not isinstance(body.get("url"), str)
            or not isinstance(body.get("secret"), str)
        ):
            return JSONResponse({"error": "url and secret are expected"}, 400)
        url, secret = str(body["url"]), str(body["secret"])
        wanted = body.get("tracker_ids")
        with self.state.lock:
            trackers = [
                self.state.tracker_json(t)
                for t in self.state.trackers.values()
                if not isinstance(wanted, list) or t.id in wanted
            ]
        sent = await send_tracker_events(url, secret, trackers)
        return JSONResponse({"sent": sent})

    async def _sink(self, request: Request) -> Response:
        if request.method == "POST":
            raw = await request.body()
            self.sink.append(
                {"signature": request.headers.get(SIGNATURE_HEADER), "body": raw.decode("utf-8", "replace")}
            )
            return JSONResponse({"received": True})
        return JSONResponse({"received": self.sink})

    async def _stats(self, _request: Request) -> Response:
        return JSONResponse(
            {"requests": self.log.snapshot(), **self.state.snapshot(), "now": iso(self.state.clock.now())}
        )

    async def _reset(self, _request: Request) -> Response:
        self.state.reset()
        self.log.reset()
        self.sink.clear()
        return JSONResponse({"reset": True})


def _base(request: Request) -> str:
    """Where the fake's files are: its own port under the loopback's other name. EasyPost serves label files from a
    storage host apart from its API (and outside the API's rate limit); a client telling the two apart by host sees
    the same here."""
    base = request.base_url
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(base.hostname or "", base.hostname)
    return str(base.replace(hostname=other)).rstrip("/")


async def _body(request: Request) -> object | None:
    raw = await request.body()
    if not raw:
        return {}
    try:
        value: object = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value


def _unparseable() -> Answer:
    return error(400, "BAD_REQUEST", "The request body could not be parsed as JSON.")


def _json(status: int, body: Json) -> Response:
    return JSONResponse(body, status_code=status)


def _malformed(answer: Answer, kind: str) -> Response:
    status, body = answer
    if kind == "truncated":
        text = json.dumps(body)
        return Response(text[: max(1, len(text) // 2)], status, media_type="application/json")
    if kind == "missing_fields" and status < 300:
        stripped = {
            k: v for k, v in body.items() if k not in {"postage_label", "tracking_code", "status", "selected_rate"}
        }
        return _json(status, stripped)
    return Response("<html><body>upstream connect error</body></html>", 200, media_type="text/html")


def tracker_event(tracker: Json, *, description: str = "tracker.updated", url: str = "") -> Json:
    """An EasyPost webhook Event carrying `tracker`."""
    now = iso(datetime.now(UTC))
    return {
        "object": "Event",
        "id": new_id("evt"),
        "mode": "test",
        "description": description,
        "previous_attributes": {},
        "result": tracker,
        "status": "pending",
        "pending_urls": [url] if url else [],
        "completed_urls": [],
        "user_id": "user_fake",
        "created_at": now,
        "updated_at": now,
    }


async def send_tracker_events(url: str, secret: str, trackers: Sequence[Json]) -> list[Json]:
    """POST one signed tracker.updated Event per tracker to `url`; what each delivery answered."""
    sent: list[Json] = []
    async with httpx.AsyncClient(timeout=10.0) as client:
        for tracker in trackers:
            event = tracker_event(tracker, url=url)
            body = json.dumps(event).encode()
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}
            try:
                response = await client.post(url, content=body, headers=headers)
                answered: int | None = response.status_code
            except httpx.HTTPError:
                answered = None
            sent.append({"event_id": event["id"], "tracker_id": tracker["id"], "status_code": answered})
    return sent


# -- running it ------------------------------------------------------------------------------------------------------


def _free_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _clock(speed: float, epoch: float | None) -> FakeClock:
    """Real time sped up; given an epoch, the same time as the platform's accelerated clock with that epoch (so the
    fake's scan times and ours agree in a benchmark)."""
    if epoch is None:
        return FakeClock(speed)
    return FakeClock(speed, start=datetime.fromtimestamp(epoch + (time.time() - epoch) * speed, tz=UTC))


def _uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off", ws="none", http="h11"
    )


class FakeEasyPost:
    """The fake, started on a free port: in this process (a background thread) or, for a benchmark that must not
    share the GIL with it, in a subprocess. Control goes through the HTTP control API either way."""

    def __init__(  # noqa: PLR0913 - keyword-only settings of the fake
        self,
        *,
        api_key: str | None = None,
        faults: Mapping[str, object] | None = None,
        rate_limit: float | None = None,
        clock_speed: float = 1.0,
        clock_epoch: float | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        in_process: bool = True,
    ) -> None:
        self.api_key = api_key
        self._faults = Faults().merged(faults or {})
        self._rate_limit = rate_limit
        self._clock_speed = clock_speed
        self._clock_epoch = clock_epoch
        self._seed = seed
        self._host = host
        self._port = port
        self._in_process = in_process
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._control: httpx.Client | None = None
        self.url = ""

    @property
    def api_base(self) -> str:
        return f"{self.url}/v2"

    def start(self, timeout: float = 15.0) -> Self:
        sock = _free_socket(self._host, self._port)
        port = sock.getsockname()[1]
        self.url = f"http://{self._host}:{port}"
        if self._in_process:
            app = FakeEasyPostApp(
                api_key=self.api_key,
                faults=self._faults,
                rate_limit=self._rate_limit,
                clock_speed=self._clock_speed,
                clock_epoch=self._clock_epoch,
                seed=self._seed,
            )
            self._server = uvicorn.Server(_uvicorn_config(app.app, self._host, port))
            self._thread = threading.Thread(
                target=self._server.run, kwargs={"sockets": [sock]}, name="fake-easypost", daemon=True
            )
            self._thread.start()
        else:
            sock.close()  # the subprocess binds it again (a short window another process could take it)
            command = [sys.executable, "-m", "rma.adapters.easypost.fake_server", "--host", self._host]
            command += ["--port", str(port), "--seed", str(self._seed), "--clock-speed", str(self._clock_speed)]
            if self._clock_epoch is not None:
                command += ["--clock-epoch", repr(self._clock_epoch)]
            command += ["--faults", json.dumps(self._faults.as_json())]
            if self.api_key:
                command += ["--api-key", self.api_key]
            if self._rate_limit is not None:
                command += ["--rate-limit", str(self._rate_limit)]
            self._process = subprocess.Popen(command)  # noqa: S603 - our own module, by the running interpreter
        self._control = httpx.Client(base_url=self.url, timeout=30.0)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError("the fake EasyPost server exited at start")
            try:
                if self._http().get("/_fake/faults").status_code == httpx.codes.OK:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the fake EasyPost server did not start in time")

    def _http(self) -> httpx.Client:
        if self._control is None:
            raise RuntimeError("the fake EasyPost server is not started")
        return self._control

    def _post(self, path: str, body: Mapping[str, object]) -> Json:
        response = self._http().post(path, json=dict(body))
        response.raise_for_status()
        answer: Json = response.json()
        return answer

    def stats(self) -> Json:
        response = self._http().get("/_fake/stats")
        response.raise_for_status()
        answer: Json = response.json()
        return answer

    def set_faults(self, **faults: object) -> Json:
        return self._post("/_fake/faults", faults)

    def clear_faults(self) -> Json:
        """No faults, no latency, no account limit."""
        self.set_rate_limit(None)
        return self.set_faults(rate_429=0, rate_5xx=0, rate_timeout=0, rate_malformed=0, endpoints=[], latency={})

    def set_rate_limit(self, per_second: float | None) -> Json:
        return self._post("/_fake/rate_limit", {"per_second": per_second})

    def advance_clock(self, seconds: float) -> Json:
        return self._post("/_fake/clock", {"advance_seconds": seconds})

    def set_clock_speed(self, speed: float) -> Json:
        return self._post("/_fake/clock", {"speed": speed})

    def set_tracker_status(
        self, tracker_id: str, status: str, *, status_detail: str | None = None, message: str | None = None
    ) -> Json:
        body = {"status": status, "status_detail": status_detail, "message": message}
        return self._post(f"/_fake/trackers/{tracker_id}/status", body)

    def send_webhooks(self, url: str, secret: str, tracker_ids: Sequence[str] | None = None) -> list[Json]:
        body: dict[str, object] = {"url": url, "secret": secret}
        if tracker_ids is not None:
            body["tracker_ids"] = list(tracker_ids)
        sent: list[Json] = self._post("/_fake/webhooks/send", body)["sent"]
        return sent

    @property
    def sink_url(self) -> str:
        return f"{self.url}/_fake/webhook_sink"

    def webhooks_received(self) -> list[Json]:
        received: list[Json] = self._http().get("/_fake/webhook_sink").json()["received"]
        return received

    def reset(self) -> Json:
        return self._post("/_fake/reset", {})

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = self._thread = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> Self:
        return self.start() if not self.url else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _latency_argument(text: str) -> tuple[str, tuple[float, float]]:
    name, _, bounds = text.partition("=")
    low, _, high = bounds.partition(":")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"latency is endpoint=low:high seconds, not {text!r}") from None
    return name, pair


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake EasyPost API for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--api-key", default=None, help="the one key accepted (default: any non-empty key)")
    parser.add_argument("--rate-limit", type=float, default=None, help="account requests per second (429 above)")
    parser.add_argument(
        "--latency", type=_latency_argument, action="append", default=[], help="endpoint=low:high seconds, repeatable"
    )
    parser.add_argument("--faults", default="{}", help="fault settings as JSON (see the control API)")
    parser.add_argument("--clock-speed", type=float, default=1.0, help="fake seconds per real second")
    parser.add_argument(
        "--clock-epoch", type=float, default=None, help="Unix time the sped-up clock counts from (RMA_CLOCK_EPOCH)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        faults = Faults().merged(json.loads(args.faults))
        if args.latency:
            faults = faults.merged({"latency": {name: list(pair) for name, pair in args.latency}})
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    app = FakeEasyPostApp(
        api_key=args.api_key,
        faults=faults,
        rate_limit=args.rate_limit,
        clock_speed=args.clock_speed,
        clock_epoch=args.clock_epoch,
        seed=args.seed,
    )
    uvicorn.Server(_uvicorn_config(app.app, args.host, args.port)).run()


if __name__ == "__main__":
    main()
