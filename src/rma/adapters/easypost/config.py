"""How the EasyPost adapter is set up: the account, the returns centre, the label and which rate to buy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rma.domain.requests import Address

LabelFormat = Literal["PDF", "ZPL", "PNG"]
DEFAULT_API_BASE = "https://api.easypost.com/v2"


@dataclass(frozen=True, slots=True)
class RateRule:
    """Which rate to buy: `fixed_service` if given, else the cheapest of the allowed carriers and services (an empty
    tuple allows any). Names compare case-insensitively, as EasyPost's own rate helpers do."""

    carriers: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    fixed_service: tuple[str, str] | None = None  # (carrier, service), e.g. ("USPS", "GroundAdvantage")

    def describe(self) -> str:
        if self.fixed_service is not None:
            return f"{self.fixed_service[0]} {self.fixed_service[1]}"
        carriers = ", ".join(self.carriers) or "any"
        services = ", ".join(self.services) or "any"
        return f"carriers {carriers} services {services}"


@dataclass(frozen=True, slots=True)
class EasyPostConfig:
    """`throttle` is called before every HTTP request to EasyPost (a shared rate limiter plugs in there); it may
    block. `concurrency` is the number of threads making per-shipment calls at once."""

    api_key: str
    warehouse: Address
    api_base: str = DEFAULT_API_BASE
    timeout_seconds: float = 30.0
    warehouse_phone: str | None = None
    warehouse_email: str | None = None
    label_format: LabelFormat = "PDF"
    label_size: str = "4x6"
    rule: RateRule = RateRule()
    concurrency: int = 8
    throttle: Callable[[], None] | None = None
    retries_on_429: int = 2
    """In-call retries of a request EasyPost answered 429, after its Retry-After (a 429 was not processed, so a
    retry is safe); beyond them, or past `max_retry_after_seconds`, the request fails transiently."""
    max_retry_after_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("an EasyPost API key is required")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")

    def __repr__(self) -> str:
        # Neither the key nor the warehouse address belongs in a log line or a traceback.
        return f"EasyPostConfig(api_base={self.api_base!r}, label_format={self.label_format!r}, rule={self.rule!r})"
