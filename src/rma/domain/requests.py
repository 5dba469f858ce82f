"""The intake schema: a return request as an upstream order system sends it.

Strict numbers (no "12" for 12, no 12.5 for a count or an amount) and unknown fields refused, so that a mistake
upstream is caught at the door with the field and the reason, not three stages later. Dates are ISO-8601
strings (`2026-11-28`). Customer contact and address are carried here only to reach the label and notification
adapters; they are personal data and must never be logged (see `rma.logging`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_extra_types.country import CountryAlpha2

from rma.domain.money import CurrencyCode, MinorUnits
from rma.domain.reasons import NormalisedReason, normalise_reason
from rma.domain.text import refused_character
from rma.domain.validation import FieldError

STORED: Final = {"stored": True}
"""Validation context for a request read back from the database: the checks added at the door since it was stored
(characters, date bounds) are not applied again, so what an older schema accepted stays readable."""

# Absolute bounds of every date a request carries; `date_problems` checks the tighter bounds relative to today.
EARLIEST_DATE: Final = date(2000, 1, 1)
LATEST_DATE: Final = date(2999, 12, 31)
MAX_CLOCK_SKEW: Final = timedelta(days=1)
"""How far ahead of our clock a date may be: the upstream's day may already have begun."""
MAX_ORDER_AGE: Final = timedelta(days=3 * 365 + 1)
"""How old an order may be (three years): far beyond any return window, so only a wrong date is refused."""


def _stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("stored"))


def _characters(*, multiline: bool) -> Callable[[str, ValidationInfo], str]:
    def check(value: str, info: ValidationInfo) -> str:
        if not _stored(info) and (reason := refused_character(value, multiline=multiline)) is not None:
            raise ValueError(reason)
        return value

    return check


SINGLE_LINE: Final = AfterValidator(_characters(multiline=False))
"""One line of text a person typed (a name, an address line, an item name): no control characters."""
FREE_TEXT: Final = AfterValidator(_characters(multiline=True))
"""Text that may run over several lines (a comment, a note): tab, line feed and carriage return allowed."""

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$")]
Text = Annotated[str, Field(min_length=1, max_length=200), SINGLE_LINE]
# Counts are strict: "2" or 2.0 is refused, not silently coerced.
Count = Annotated[int, Strict(), Field(ge=1, le=10_000)]


def _iso_date_only(value: object) -> object:
    # pydantic would also take a number as a Unix timestamp; an order system sending one has a bug we should name.
    if isinstance(value, str | date):
        return value
    raise ValueError("must be a date as an ISO-8601 string, e.g. 2026-11-28")


def _plausible(value: date, info: ValidationInfo) -> date:
    if not _stored(info) and not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"{value} is not a plausible date (must lie between {EARLIEST_DATE} and {LATEST_DATE})")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only), AfterValidator(_plausible)]


def _lower(value: str) -> str:
    return value.strip().lower()


Category = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^\s*[A-Za-z0-9][A-Za-z0-9 _&/-]*\s*$"),
    AfterValidator(_lower),
]


class Condition(StrEnum):
    """The condition the customer reports; the inspector grades the real one later."""

    UNOPENED = "unopened"
    OPENED = "opened"
    USED = "used"
    DAMAGED = "damaged"


class Address(BaseModel):
    """Where the parcel is collected from. Personal data: never logged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text
    line1: Text
    line2: Annotated[str, Field(max_length=200), SINGLE_LINE] | None = None
    city: Text
    region: Annotated[str, Field(max_length=100), SINGLE_LINE] | None = None
    postal_code: Annotated[str, Field(min_length=1, max_length=20), SINGLE_LINE]
    country: CountryAlpha2


class Contact(BaseModel):
    """How to reach the customer. Personal data: never logged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text
    email: EmailStr
    phone: Annotated[str, Field(max_length=32, pattern=r"^\+?[0-9 ()-]{5,32}$")] | None = None


class ReturnLineRequest(BaseModel):
    """One order line the customer wants to send back (all or part of its quantity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_line_id: Identifier
    sku: Identifier
    asin: Annotated[str, Field(pattern=r"^[A-Z0-9]{10}$")] | None = None
    item_name: Text
    category: Category
    quantity_delivered: Count
    quantity_to_return: Count
    unit_price: MinorUnits
    tax: Annotated[MinorUnits, Field(description="tax charged on this line's whole delivered quantity, minor units")]
    condition: Condition
    reason_code: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _./-]*$")]
    comment: Annotated[str, Field(max_length=1_000), FREE_TEXT] | None = None

    @model_validator(mode="after")
    def _quantity_within_delivered(self) -> Self:
        if self.quantity_to_return > self.quantity_delivered:
            raise ValueError(
                f"quantity_to_return ({self.quantity_to_return}) is more than quantity_delivered "
                f"({self.quantity_delivered})"
            )
        return self

    @property
    def reason(self) -> NormalisedReason:
        return normalise_reason(self.reason_code)

    @property
    def delivered_value(self) -> int:
        """Price and tax of everything delivered on this line, in minor units."""
        return self.unit_price * self.quantity_delivered + self.tax


class ReturnRequest(BaseModel):
    """A return request from an upstream order system. `(channel, upstream_request_id)` is its idempotency key.

    Cross-field checks are field validators (not one model validator) so that each error names its field; fields
    are declared in the order those checks need (a validator sees only the fields above it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    upstream_request_id: Identifier
    channel: Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    marketplace: Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")] | None = None
    order_id: Identifier
    order_date: IsoDate
    delivery_date: IsoDate | None = None
    customer_id: Identifier
    contact: Contact
    return_from: Address
    lines: Annotated[list[ReturnLineRequest], Field(min_length=1, max_length=100)]
    currency: CurrencyCode
    shipping_paid: MinorUnits = 0
    amount_captured: MinorUnits

    @field_validator("delivery_date")
    @classmethod
    def _delivered_after_order(cls, value: date | None, info: ValidationInfo) -> date | None:
        ordered = info.data.get("order_date")
        if value is not None and ordered is not None and value < ordered:
            raise ValueError(f"delivery date {value} is before the order date {ordered}")
        return value

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, value: list[ReturnLineRequest]) -> list[ReturnLineRequest]:
        seen: set[str] = set()
        for line in value:
            if line.order_line_id in seen:
                raise ValueError(f"order_line_id {line.order_line_id!r} appears more than once")
            seen.add(line.order_line_id)
        return value

    @field_validator("amount_captured")
    @classmethod
    def _covers_lines(cls, value: int, info: ValidationInfo) -> int:
        lines: list[ReturnLineRequest] | None = info.data.get("lines")
        shipping: int = info.data.get("shipping_paid", 0)
        if lines is not None:
            paid = sum(line.delivered_value for line in lines) + shipping
            if paid > value:
                raise ValueError(f"{value} is less than the delivered value of the lines plus shipping_paid ({paid})")
        return value

    @property
    def order_goods_value(self) -> int:
        """What the customer paid for goods and tax on the whole order (captured less shipping)."""
        return self.amount_captured - self.shipping_paid

    def differences(self, other: ReturnRequest) -> tuple[str, ...]:
        """The top-level fields in which `other` differs from this request, compared in canonical (JSON) form: what
        parses to the same request is the same request, however it was spelt (key order, defaults, case)."""
        mine: dict[str, Any] = self.model_dump(mode="json")
        theirs: dict[str, Any] = other.model_dump(mode="json")
        return tuple(name for name in type(self).model_fields if mine.get(name) != theirs.get(name))


def date_problems(request: ReturnRequest, *, today: date) -> list[FieldError]:
    """The request's dates that no real order has as of `today` (the caller's clock): an order date in the future
    (beyond `MAX_CLOCK_SKEW`) or more than `MAX_ORDER_AGE` ago, a delivery date in the future.

    Relative to a clock, so not part of the schema (a stored request must stay valid as time passes): intake checks
    these at the door, with the field name, before storing anything."""
    latest = today + MAX_CLOCK_SKEW
    earliest = today - MAX_ORDER_AGE
    problems: list[FieldError] = []
    if request.order_date > latest:
        problems.append(
            FieldError(field="order_date", reason=f"{request.order_date} is in the future (today is {today})")
        )
    elif request.order_date < earliest:
        problems.append(
            FieldError(
                field="order_date",
                reason=f"{request.order_date} is more than three years ago (the earliest order date accepted is "
                f"{earliest})",
            )
        )
    if request.delivery_date is not None and request.delivery_date > latest:
        problems.append(
            FieldError(field="delivery_date", reason=f"{request.delivery_date} is in the future (today is {today})")
        )
    return problems
