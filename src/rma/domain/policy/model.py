"""The shape of a return policy file, validated by pydantic.

A policy book holds one or more versions, each effective from a date. The version in force at an order's date governs
that order for good: publishing a new version never changes the rights of orders placed before it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rma.domain.money import CurrencyCode
from rma.domain.reasons import Reason
from rma.domain.requests import Condition

Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
Days = Annotated[int, Field(ge=1, le=365)]
AmountByCurrency = dict[CurrencyCode, Annotated[int, Field(ge=0)]]


class Fault(StrEnum):
    SELLER = "seller"
    BUYER = "buyer"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonthDay(_Strict):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)

    @model_validator(mode="after")
    def _real_day(self) -> Self:
        date(2024, self.month, self.day)  # a leap year, so 02-29 is allowed; raises ValueError for 04-31
        return self

    @classmethod
    def parse(cls, text: str) -> MonthDay:
        month, _, day = text.partition("-")
        return cls(month=int(month), day=int(day))

    def in_year(self, year: int) -> date:
        # 02-29 falls back to 02-28 in common years.
        try:
            return date(year, self.month, self.day)
        except ValueError:
            return date(year, self.month, self.day - 1)

    def key(self) -> tuple[int, int]:
        return (self.month, self.day)


def _month_day(value: object) -> object:
    return MonthDay.parse(value) if isinstance(value, str) else value


class ReturnWindow(_Strict):
    default_days: Days
    by_category: dict[str, Days] = Field(default_factory=dict)
    expected_transit_days: int = Field(ge=0, le=60, description="added to the order date when delivery is unknown")
    business_calendar: str = Field(default="US", description="country whose public holidays are not business days")

    @field_validator("by_category")
    @classmethod
    def _lower_keys(cls, value: dict[str, int]) -> dict[str, int]:
        return {k.strip().lower(): v for k, v in value.items()}

    @field_validator("business_calendar")
    @classmethod
    def _known_calendar(cls, value: str) -> str:
        if value not in holidays.list_supported_countries():
            raise ValueError(f"{value!r} is not a country with a known holiday calendar")
        return value


class HolidayExtension(_Strict):
    """Orders placed between `season_start` and `season_end` may be returned until the next `returnable_until`."""

    season_start: MonthDay
    season_end: MonthDay
    returnable_until: MonthDay

    @field_validator("season_start", "season_end", "returnable_until", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        return _month_day(value)

    def season_containing(self, order_date: date) -> tuple[date, date] | None:
        """The season (start, end) that contains `order_date`, if any. Seasons may cross a new year."""
        for start_year in (order_date.year - 1, order_date.year):
            start = self.season_start.in_year(start_year)
            end_year = start_year if self.season_end.key() >= self.season_start.key() else start_year + 1
            end = self.season_end.in_year(end_year)
            if start <= order_date <= end:
                return start, end
        return None

    def extended_until(self, order_date: date) -> date | None:
        season = self.season_containing(order_date)
        if season is None:
            return None
        _, end = season
        year = end.year if self.returnable_until.key() > (end.month, end.day) else end.year + 1
        return self.returnable_until.in_year(year)


class SkuOverride(_Strict):
    returnable: bool = True
    window_days: Days | None = None
    review: bool = Field(default=False, description="always send requests for this SKU to a person")
    returnless: bool | None = Field(default=None, description="force (true) or forbid (false) refund without return")
    restocking_fee_percent: Percent | None = None


class FaultMatrix(_Strict):
    seller: frozenset[Reason]
    buyer: frozenset[Reason]
    review: frozenset[Reason] = Field(default=frozenset(), description="reasons a person must always look at")
    unknown_code: Fault = Field(description="fault assumed for a reason code we do not recognise")

    @model_validator(mode="after")
    def _disjoint(self) -> Self:
        both = self.seller & self.buyer
        if both:
            raise ValueError(f"reasons listed as both seller and buyer fault: {sorted(both)}")
        return self

    def fault_of(self, reason: Reason | None) -> Fault:
        if reason in self.seller:
            return Fault.SELLER
        if reason in self.buyer:
            return Fault.BUYER
        return self.unknown_code


class Authorization(_Strict):
    review_above: AmountByCurrency = Field(description="requests worth more than this go to a person")
    out_of_policy: Literal["reject", "review", "accept"] = "reject"


class Returnless(_Strict):
    enabled: bool = True
    max_unit_price: AmountByCurrency = Field(default_factory=dict)
    categories: frozenset[str] = Field(default=frozenset(), description="empty: any category not excluded")
    excluded_categories: frozenset[str] = frozenset()
    faults: frozenset[Fault] = frozenset({Fault.SELLER, Fault.BUYER})

    @field_validator("categories", "excluded_categories")
    @classmethod
    def _lower(cls, value: frozenset[str]) -> frozenset[str]:
        # Request categories arrive lower-cased; match them like every other category list in the policy.
        return frozenset(v.strip().lower() for v in value)


class RestockingFee(_Strict):
    buyer_remorse_percent: Percent
    buyer_remorse_conditions: frozenset[Condition] = frozenset({Condition.OPENED, Condition.USED})
    out_of_policy_percent: Percent


class InspectionRules(_Strict):
    damaged_by_customer_percent: Percent = Field(
        default=Decimal(50), description="deducted from buyer-fault lines the inspector grades as used or damaged"
    )
    deadline_business_days: int = Field(default=2, ge=1, le=30, description="from delivery to refund decision")


class Label(_Strict):
    cost: AmountByCurrency
    deduct_for_buyer_fault: bool = True


class PolicyVersion(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=32)]
    effective_from: date = Field(description="applies to orders placed on or after this date")
    description: str = ""
    window: ReturnWindow
    holiday_extension: HolidayExtension | None = None
    non_returnable_categories: frozenset[str] = frozenset()
    non_returnable_skus: frozenset[str] = frozenset()
    sku_overrides: dict[str, SkuOverride] = Field(default_factory=dict)
    fault: FaultMatrix
    authorization: Authorization
    returnless: Returnless
    restocking_fee: RestockingFee
    label: Label
    inspection: InspectionRules = Field(default_factory=InspectionRules)

    @field_validator("non_returnable_categories")
    @classmethod
    def _lower(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(v.strip().lower() for v in value)

    def window_days(self, category: str, sku: str) -> int:
        override = self.sku_overrides.get(sku)
        if override is not None and override.window_days is not None:
            return override.window_days
        return self.window.by_category.get(category, self.window.default_days)


class PolicyBook(_Strict):
    versions: Annotated[list[PolicyVersion], Field(min_length=1)]

    @model_validator(mode="after")
    def _ordered_and_unique(self) -> Self:
        names = [v.version for v in self.versions]
        if len(set(names)) != len(names):
            raise ValueError("policy version names must be unique")
        starts = [v.effective_from for v in self.versions]
        if len(set(starts)) != len(starts):
            raise ValueError("two policy versions cannot take effect on the same date")
        object.__setattr__(self, "versions", sorted(self.versions, key=lambda v: v.effective_from))
        return self

    def in_force(self, order_date: date) -> PolicyVersion | None:
        """The version governing an order placed on `order_date`, or None if the order predates every version."""
        current = None
        for version in self.versions:
            if version.effective_from <= order_date:
                current = version
        return current
