"""The one place the EasyPost SDK is called: typed methods that answer plain JSON dicts or raise a `CallError`.

Each worker thread has its own SDK client (the SDK keeps a `requests` session per client, and a session is not
meant to be shared between threads). The SDK's request hook calls `throttle` before every HTTP request, so the shared
rate limiter sees each one, including the SDK's; its response hook keeps the status and Retry-After of the last
answer on this thread, which the SDK's exceptions do not carry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from easypost.easypost_client import EasyPostClient
from easypost.easypost_object import EasyPostObject
from easypost.errors.general.easypost_error import EasyPostError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from rma.adapters.easypost.errors import CallError, TransientError, classify, retry_after_seconds
from rma.adapters.easypost.model import Json

Throttle = Callable[[], None]
# read=False: a read timeout is raised as it is (the SDK's TimeoutError), neither retried nor made a connection error.
_CONNECT_RETRIES = Retry(total=3, connect=3, read=False, status=0, other=0, redirect=False)


def _no_throttle() -> None:
    return None


class EasyPostApi:
    def __init__(
        self,
        *,
        api_key: str,
        api_base: str,
        timeout_seconds: float,
        throttle: Throttle | None = None,
        retries_on_429: int = 2,
        max_retry_after_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_key = api_key
        self.api_base = api_base.rstrip("/")
        self._timeout = timeout_seconds
        self.throttle = throttle or _no_throttle
        self._retries_on_429 = retries_on_429
        self._max_retry_after = max_retry_after_seconds
        self._sleep = sleep
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"EasyPostApi(api_base={self.api_base!r})"  # never the key

    def _client(self) -> EasyPostClient:
        client: EasyPostClient | None = getattr(self._local, "client", None)
        if client is None:
            # The SDK passes `timeout` straight to requests, which takes seconds as a float.
            client = EasyPostClient(self._api_key, api_base=self.api_base, timeout=cast("int", self._timeout))
            sdk = cast("Any", client)  # the SDK's hook methods are unannotated
            sdk.subscribe_to_request_hook(self._before_request)
            sdk.subscribe_to_response_hook(self._after_response)
            # The SDK's session retries a GET on a read timeout three times, below the throttle and unseen by us;
            # only connecting again is left to it (a request that never connected never reached EasyPost).
            sdk._requests_session.mount(  # noqa: SLF001 - the SDK offers no other way to set its retries
                self.api_base.split("/v2")[0], HTTPAdapter(max_retries=_CONNECT_RETRIES)
            )
            self._local.client = client
        return client

    def _before_request(self, **_: object) -> None:
        self.throttle()

    def _after_response(self, **answer: object) -> None:
        status = answer.get("http_status")
        headers = answer.get("headers")
        self._local.status = status if isinstance(status, int) else None
        retry_after = headers.get("Retry-After") if isinstance(headers, Mapping) else None
        self._local.retry_after = retry_after if isinstance(retry_after, str) else None

    def _call(self, request: Callable[[EasyPostClient], object], private: Iterable[str] = ()) -> Json:
        attempt = 0
        while True:
            self._local.status = None
            self._local.retry_after = None
            try:
                answer = request(self._client())
            except EasyPostError as exc:
                failure = classify(
                    exc,
                    status=self._local.status,
                    retry_after=retry_after_seconds(self._local.retry_after),
                    private=private,
                )
                if self._retry_after_429(failure, attempt):
                    attempt += 1
                    continue
                raise failure from None  # the SDK's message may quote the body, which may quote an address
            if not isinstance(answer, EasyPostObject):
                raise TransientError("malformed EasyPost answer: not a JSON object", status=self._local.status)
            return answer.to_dict()

    def _retry_after_429(self, failure: CallError, attempt: int) -> bool:
        if not isinstance(failure, TransientError) or failure.status != 429 or attempt >= self._retries_on_429:
            return False
        delay = failure.retry_after if failure.retry_after is not None else 1.0
        if delay > self._max_retry_after:
            return False
        self._sleep(delay)
        return True

    def create_shipment(self, shipment: Mapping[str, object], *, private: Iterable[str] = ()) -> Json:
        return self._call(lambda c: c.shipment.create(**shipment), private)

    def retrieve_shipment(self, shipment_id: str, *, private: Iterable[str] = ()) -> Json:
        return self._call(lambda c: c.shipment.retrieve(shipment_id), private)

    def buy_shipment(self, shipment_id: str, rate_id: str, *, private: Iterable[str] = ()) -> Json:
        return self._call(lambda c: c.shipment.buy(shipment_id, rate={"id": rate_id}), private)

    def convert_label(self, shipment_id: str, file_format: str) -> Json:
        return self._call(lambda c: c.shipment.label(shipment_id, file_format=file_format))

    def refund_shipment(self, shipment_id: str) -> Json:
        return self._call(lambda c: c.shipment.refund(shipment_id))

    def retrieve_tracker(self, tracker_id: str) -> Json:
        return self._call(lambda c: c.tracker.retrieve(tracker_id))

    def create_tracker(self, tracking_code: str, carrier: str | None) -> Json:
        params = {"tracking_code": tracking_code} | ({"carrier": carrier} if carrier else {})
        return self._call(lambda c: c.tracker.create(**params))
