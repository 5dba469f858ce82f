"""Which of a shipment's rates to buy, and what it costs in minor units (exact decimals, never floats)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from rma.adapters.easypost.config import RateRule
from rma.adapters.easypost.model import Rate

# ISO-4217 currencies whose minor unit is not the cent; EasyPost rates are almost always USD.
_EXPONENTS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}


def minor_units(amount: str, currency: str) -> int:
    """ "7.58" USD -> 758. Sub-minor digits ("5.93000") are exact zeros in practice; any other is rounded half up."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise ValueError(f"the rate {amount!r} is not a decimal amount") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"the rate {amount!r} is not a non-negative amount")
    scaled = value.scaleb(_EXPONENTS.get(currency.upper(), 2))
    return int(scaled.to_integral_value(rounding=ROUND_HALF_UP))


def _price(rate: Rate) -> Decimal | None:
    try:
        value = Decimal(rate.amount)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _allowed(rate: Rate, rule: RateRule) -> bool:
    if rule.fixed_service is not None:
        carrier, service = rule.fixed_service
        return rate.carrier.lower() == carrier.lower() and rate.service.lower() == service.lower()
    carriers = {c.lower() for c in rule.carriers}
    services = {s.lower() for s in rule.services}
    return (not carriers or rate.carrier.lower() in carriers) and (not services or rate.service.lower() in services)


def choose_rate(rates: Sequence[Rate], rule: RateRule) -> Rate | None:
    """The rule's rate: the cheapest allowed one (ties broken by carrier, service, id, so every attempt agrees)."""
    priced = [(price, rate) for rate in rates if _allowed(rate, rule) and (price := _price(rate)) is not None]
    if not priced:
        return None
    return min(priced, key=lambda pair: (pair[0], pair[1].carrier, pair[1].service, pair[1].id))[1]


def no_rate_cause(rule: RateRule, offered: int, carrier_messages: int) -> str:
    cause = f"no rate for {rule.describe()} (EasyPost offered {offered} rate{'s' if offered != 1 else ''}"
    if carrier_messages:
        cause += f"; {carrier_messages} carrier{'s' if carrier_messages != 1 else ''} could not rate the parcel"
    return cause + ")"
