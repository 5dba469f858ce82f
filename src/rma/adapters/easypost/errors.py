"""How an EasyPost failure is classified: refused for good (this one shipment), transient (retry later), or fatal
(the account or the set-up, whatever the shipment).

| what EasyPost did                                                  | class     |
| ------------------------------------------------------------------ | --------- |
| timeout, connection error, 429, 5xx, 408, 409                      | transient |
| a body that is not JSON, or JSON without what we need               | transient |
| 402 (no funds: topping up the balance fixes it)                     | transient |
| SHIPMENT.POSTAGE.NO_RESPONSE / TIMED_OUT, PURCHASE.IN_PROGRESS      | transient (the outcome is unknown) |
| 401, 403, a redirect                                                | fatal     |
| any other 4xx (400, 404, 422: an address, a parameter)              | refused   |

A cause is built from EasyPost's code, message and field errors (never its `suggestion`, which is a corrected
address), and scrubbed of the request's own address values, since a carrier's message may quote them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from easypost.errors.api.api_error import ApiError
from easypost.errors.api.http_error import HttpError
from easypost.errors.api.json_error import JsonError
from easypost.errors.api.timeout_error import TimeoutError  # noqa: A004 - the SDK's name, not the builtin
from easypost.errors.general.easypost_error import EasyPostError

from rma.ports.providers import ProviderError

TRANSIENT_CODES = frozenset(
    {
        "SHIPMENT.POSTAGE.NO_RESPONSE",
        "SHIPMENT.POSTAGE.TIMED_OUT",
        "SHIPMENT.PURCHASE.IN_PROGRESS",
        "REFUND.NO_RESPONSE",
    }
)
MAX_CAUSE = 300
REDACTED = "[redacted]"


class CallError(Exception):
    """An EasyPost call failed; `cause` is readable and quotes no personal data."""

    def __init__(self, cause: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.status = status
        self.code = code


class RefusedError(CallError):
    """EasyPost refused this one request for good."""


class TransientError(CallError):
    """Worth retrying later; `retry_after` is EasyPost's own hint (seconds), where it gave one."""

    def __init__(
        self, cause: str, *, status: int | None = None, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(cause, status=status, code=code)
        self.retry_after = retry_after


class FatalError(CallError):
    """The account or the set-up is wrong (the key, the base URL): no request of this call can succeed."""


class EasyPostProviderError(ProviderError):
    """A whole call failed. `retry_after` (seconds) is EasyPost's Retry-After, where it gave one."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message, transient=transient, retry_after=retry_after)


def scrub(text: str, private: Iterable[str]) -> str:
    """`text` with every value of `private` (3 characters or more) replaced, case-insensitively."""
    cleaned = text
    for value in sorted({v.strip() for v in private if len(v.strip()) >= 3}, key=len, reverse=True):
        start = cleaned.lower().find(value.lower())
        while start != -1:
            cleaned = cleaned[:start] + REDACTED + cleaned[start + len(value) :]
            start = cleaned.lower().find(value.lower(), start + len(REDACTED))
    return cleaned if len(cleaned) <= MAX_CAUSE else cleaned[: MAX_CAUSE - 1] + "…"


def _field_errors(errors: object) -> list[str]:
    if not isinstance(errors, list):
        return []
    parts: list[str] = []
    for item in errors:
        if isinstance(item, Mapping):
            field, message = item.get("field"), item.get("message")
            if isinstance(message, str) and message:
                parts.append(f"{field}: {message}" if isinstance(field, str) and field else message)
        elif isinstance(item, str) and item:
            parts.append(item)
    return parts


def readable(exc: ApiError, private: Iterable[str] = ()) -> str:
    """EasyPost's own words for an API error: "CODE: message (field: message; ...)"."""
    message = exc.message.strip() or "no message"
    details = [part for part in _field_errors(exc.errors) if part.lower() != message.lower()]
    text = f"{exc.code}: {message}" if exc.code else message
    if details:
        text += f" ({'; '.join(details)})"
    return scrub(text, private)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header's delay: seconds, or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def classify(  # noqa: PLR0911 - one return per row of the table above
    exc: EasyPostError,
    *,
    status: int | None = None,
    retry_after: float | None = None,
    private: Iterable[str] = (),
) -> CallError:
    """Our class for an SDK error. `status` and `retry_after` come from the HTTP response where the SDK dropped
    them (it raises JsonError for a non-JSON body without the status, and never exposes Retry-After)."""
    if isinstance(exc, TimeoutError):
        return TransientError("EasyPost did not answer in time", status=exc.http_status)
    if isinstance(exc, HttpError):
        return TransientError("could not reach EasyPost (connection error)")
    if not isinstance(exc, ApiError):
        return TransientError(f"unexpected EasyPost client error ({type(exc).__name__})")
    status = exc.http_status or status
    if isinstance(exc, JsonError):
        return TransientError(
            f"malformed EasyPost answer: the body is not EasyPost JSON (HTTP {status or '?'})", status=status
        )
    cause = readable(exc, private)
    code = exc.code if isinstance(exc.code, str) else None
    if status is None:
        return TransientError(f"EasyPost answered without a status: {cause}", code=code)
    if status == 429:
        return TransientError(f"EasyPost rate limit (429): {cause}", status=status, code=code, retry_after=retry_after)
    if status >= 500 or status in {402, 408, 409} or code in TRANSIENT_CODES:
        return TransientError(f"EasyPost HTTP {status}: {cause}", status=status, code=code, retry_after=retry_after)
    if status in {401, 403} or 300 <= status < 400:
        return FatalError(
            f"EasyPost refused the account or the set-up (HTTP {status}): {cause}", status=status, code=code
        )
    return RefusedError(cause, status=status, code=code)
