"""A small Python client of the RMA returns API, for upstream order systems.

Every call it makes is safe to repeat (intake is idempotent per channel and upstream_request_id; the rest are reads),
so it retries what is worth retrying by itself: connection errors, timeouts, and 429/502/503/504 answers, waiting as
the server's `Retry-After` says, or with capped exponential backoff. Everything else raises `ReturnsApiError` at once,
with the server's message and, for invalid requests, one entry per field.

    with ReturnsClient("https://rma.example.com", api_key) as client:
        submission = client.submit(request)
        client.wait_for(submission.return_id, {"authorized", "pending_review", "rejected"}, timeout=60)
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final, Self, cast
from urllib.parse import quote

import httpx

from rma.domain.requests import ReturnRequest
from rma.domain.validation import FieldError

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
RETRY_ERRORS: Final = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)

RequestLike = ReturnRequest | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Submission:
    return_id: uuid.UUID
    status_url: str
    created: bool
    """False when the request had been submitted before: the answer is the return the first submission made."""


class ReturnsApiError(Exception):
    """The API refused the call (`status_code`), or could not be reached at all (`status_code` None)."""

    def __init__(self, status_code: int | None, message: str, fields: Sequence[FieldError] = ()) -> None:
        detail = "; ".join(f"{f.field}: {f.reason}" for f in fields)
        super().__init__(f"{status_code or 'no answer'}: {message}" + (f" ({detail})" if detail else ""))
        self.status_code = status_code
        self.message = message
        self.fields = list(fields)

    @property
    def retryable(self) -> bool:
        """Worth sending again later, unchanged (the retries this client made by itself were not enough)."""
        return self.status_code is None or self.status_code in RETRY_STATUSES


def _body(request: RequestLike) -> dict[str, Any]:
    return request.model_dump(mode="json") if isinstance(request, ReturnRequest) else dict(request)


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds, from either of its two forms (a number of seconds, or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error(response: httpx.Response) -> ReturnsApiError:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        fields = [FieldError.model_validate(f) for f in data.get("fields") or []]
        return ReturnsApiError(response.status_code, data["error"], fields)
    return ReturnsApiError(response.status_code, response.text[:500] or response.reason_phrase)


class ReturnsClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        """`retries`: extra attempts after the first; waits grow from `backoff` seconds and never exceed
        `max_backoff`, whatever the server's `Retry-After` asks."""
        self._http = httpx.Client(
            base_url=base_url, headers={"X-API-Key": api_key}, timeout=timeout, transport=transport
        )
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(self, request: RequestLike) -> Submission:
        """Submit one return request; a repeat answers with the return of the first submission."""
        data = self._call("POST", "/v1/returns", json=_body(request))
        return _submission(data)

    def submit_batch(self, requests: Sequence[RequestLike]) -> list[Submission]:
        """Submit up to 1000 requests in one call (stored together or not at all); answers in the same order."""
        data = self._call("POST", "/v1/returns/batch", json={"returns": [_body(r) for r in requests]})
        return [_submission(item) for item in data["returns"]]

    def get(self, ref: str | uuid.UUID) -> dict[str, Any]:
        """A return's status page by return id or RMA number: status, decision, lines, timeline, label, refunds."""
        return self._call("GET", f"/v1/returns/{quote(str(ref), safe='')}")

    def wait_for(
        self, ref: str | uuid.UUID, statuses: Iterable[str], timeout: float = 30.0, *, interval: float = 0.5
    ) -> dict[str, Any]:
        """Poll until the return reaches one of `statuses`; raise TimeoutError (naming the last status) if it
        does not within `timeout` seconds."""
        wanted = {str(s) for s in statuses}
        deadline = time.monotonic() + timeout
        while True:
            current = self.get(ref)
            if current["status"] in wanted:
                return current
            if time.monotonic() >= deadline:
                raise TimeoutError(f"return {ref} is still {current['status']} after {timeout} s")
            time.sleep(interval)

    def _call(self, method: str, path: str, *, json: object = None) -> dict[str, Any]:
        response = self._send(method, path, json)
        if response.is_error:
            raise _error(response)
        return cast("dict[str, Any]", response.json())

    def _send(self, method: str, path: str, json: object) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, json=json)
            except RETRY_ERRORS as exc:
                if attempt >= self._retries:
                    raise ReturnsApiError(None, f"{exc.__class__.__name__}: {exc}") from exc
                wait = self._delay(attempt, None)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self._retries:
                    return response
                wait = self._delay(attempt, _retry_after(response))
            time.sleep(wait)
            attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self._max_backoff, retry_after)
        # Jitter spreads out the clients that all lost the server at the same moment.
        jitter = 0.5 + random.random() / 2  # noqa: S311 - not security
        return min(self._max_backoff, self._backoff * 2.0**attempt * jitter)


def _submission(data: Mapping[str, Any]) -> Submission:
    return Submission(
        return_id=uuid.UUID(data["return_id"]), status_url=str(data["status_url"]), created=bool(data["created"])
    )
