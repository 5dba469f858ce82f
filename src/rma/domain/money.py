"""Money in integer minor units with an ISO-4217 currency, and exact splitting.

Amounts are never floats: every figure is an integer count of the currency's minor unit (cents for USD, yen for JPY).
Splitting uses the largest-remainder method so that the parts always add up to the whole, to the unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, Strict
from pydantic_extra_types.currency_code import ISO4217

from rma.domain.errors import MoneyError

CurrencyCode = Annotated[ISO4217, Field(description="ISO-4217 currency code, e.g. USD")]
MinorUnits = Annotated[int, Strict(), Field(ge=0, le=10**12, description="amount in the currency's minor unit (cents)")]


class Money(BaseModel):
    """A non-negative amount in minor units of one currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: MinorUnits
    currency: CurrencyCode

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls.model_validate({"amount": 0, "currency": currency})

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def minus_floor_zero(self, other: Money) -> Money:
        """Subtract, stopping at zero: a refund is never negative."""
        self._same_currency(other)
        return Money(amount=max(0, self.amount - other.amount), currency=self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} minor units"


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights` so that the parts sum to `total` exactly.

    Largest-remainder method: every part gets the floor of its exact share, then the units left over go one each to the
    parts with the largest remainders; ties go to the earlier part, so the result is deterministic.
    All-zero weights split evenly.
    """
    if total < 0:
        raise MoneyError("cannot allocate a negative amount")
    if not weights:
        raise MoneyError("cannot allocate over no parts")
    if any(w < 0 for w in weights):
        raise MoneyError("allocation weights must not be negative")
    effective = list(weights) if any(weights) else [1] * len(weights)
    weight_sum = sum(effective)
    floors = [total * w // weight_sum for w in effective]
    remainders = [total * w % weight_sum for w in effective]
    leftover = total - sum(floors)
    order = sorted(range(len(effective)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return floors


def percent_of(amount: int, basis_points: int) -> int:
    """`basis_points`/10,000 of `amount`, rounded half up (a 20% fee is 2,000 basis points)."""
    if amount < 0 or basis_points < 0:
        raise MoneyError("percentages apply to non-negative amounts only")
    return (amount * basis_points + 5_000) // 10_000


# ISO-4217 minor-unit exponents that differ from the usual 2 (used only to show amounts to people).
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"), 0),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}


def minor_unit_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def format_amount(amount: int, currency: str) -> str:
    """`795, "USD"` -> `"7.95 USD"`; for people, never for arithmetic."""
    exponent = minor_unit_exponent(currency)
    if exponent == 0:
        return f"{amount} {currency}"
    whole, frac = divmod(amount, 10**exponent)
    return f"{whole}.{frac:0{exponent}d} {currency}"
