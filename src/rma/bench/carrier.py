"""The carrier account a benchmark or chaos run talks to: the sandbox (in-process), or the fake EasyPost server in a
process of its own with a real carrier's latency, an account rate limit and, for chaos, injected 429s and 5xx.

The fake's own records (labels bought per RMA number, refunds, requests per second) are what the audit checks ours
against, as it would an EasyPost account's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal

from rma.adapters.db.audit import CarrierRecords
from rma.adapters.easypost.fake_server import FakeEasyPost
from rma.ports.providers import BoughtLabel

CarrierKind = Literal["sandbox", "easypost"]
API_KEY: Final = "EZTKbench"
# EasyPost's answers as a seller sees them from a data centre: a purchase waits on the carrier (300-1,500 ms),
# a tracker read is quick (100-400 ms); everything else is in between.
LATENCY: Final[dict[str, list[float]]] = {
    "buy": [0.3, 1.5],
    "track": [0.1, 0.4],
    "create": [0.15, 0.4],
    "retrieve": [0.05, 0.15],
    "refund": [0.1, 0.3],
    "file": [0.02, 0.06],
    "default": [0.05, 0.15],
}
# The account's limit, enforced by the fake (429 above it); our shared limiter keeps 10% below it.
ACCOUNT_LIMIT: Final = 300.0
CHAOS_FAULTS: Final[dict[str, object]] = {"rate_429": 0.05, "retry_after": 1, "rate_5xx": 0.03}


@dataclass
class CarrierAccount:
    kind: CarrierKind
    fake: FakeEasyPost | None = None
    limit: float = 0.0

    def env(self) -> dict[str, str]:
        """The stack's settings for this carrier."""
        if self.fake is None:
            return {}
        return {
            "RMA_CARRIER": "easypost",
            "RMA_EASYPOST_API_KEY": API_KEY,
            "RMA_EASYPOST_API_BASE": self.fake.api_base,
            "RMA_EASYPOST_TIMEOUT_SECONDS": "10",
            "RMA_EASYPOST_CONCURRENCY": "128",
            "RMA_CARRIER_RATE_LIMIT": str(ACCOUNT_LIMIT),
        }

    def stats(self) -> dict[str, Any]:
        return {} if self.fake is None else dict(self.fake.stats())

    def records(self) -> CarrierRecords | None:
        """The account's own records for the audit (None: the sandbox's tables, which the audit reads itself)."""
        if self.fake is None:
            return None
        stats = self.stats()
        labels = [
            BoughtLabel(item["reference"], item["tracking_code"], bool(item["refunded"])) for item in stats["labels"]
        ]
        return CarrierRecords(
            labels=labels,
            peak_requests_per_second=max(map(int, stats["requests"]["per_second"].values()), default=0),
            rate_limit=self.limit,
        )

    def figures(self) -> dict[str, Any]:
        """What the carrier saw: requests, the busiest second against the limit, 429s, purchases."""
        if self.fake is None:
            return {"kind": self.kind}
        stats = self.stats()
        requests: Mapping[str, Any] = stats["requests"]
        purchases: Mapping[str, Any] = stats["purchases"]
        per_reference: Mapping[str, int] = purchases["per_reference"]
        return {
            "kind": self.kind,
            "account_limit_per_second": self.limit,
            "requests": requests["total"],
            "by_endpoint": requests["by_endpoint"],
            "max_requests_in_one_second": max(requests["per_second"].values(), default=0),
            "max_requests_in_any_sliding_second": requests["max_in_any_second"],
            "rate_limited": requests["rate_limited"],
            "answered_429": requests["answered_429"],
            "faults_injected": requests["faults"],
            "labels_bought": purchases["total"],
            "returns_with_two_labels": sum(1 for count in per_reference.values() if count > 1),
            "latency": LATENCY,
        }


@contextmanager
def carrier_account(
    kind: CarrierKind, *, clock_epoch: float, clock_speed: float, faults: Mapping[str, object] | None = None
) -> Iterator[CarrierAccount]:
    """The sandbox, or a fake EasyPost account running on the stack's clock for the length of the run."""
    if kind == "sandbox":
        yield CarrierAccount(kind)
        return
    fake = FakeEasyPost(
        api_key=API_KEY,
        faults={"latency": LATENCY, **(faults or {})},
        rate_limit=ACCOUNT_LIMIT,
        clock_speed=clock_speed,
        clock_epoch=clock_epoch,
        in_process=False,  # its own process: the fake must not share a GIL with the load generator
    )
    fake.start()
    try:
        yield CarrierAccount(kind, fake, ACCOUNT_LIMIT)
    finally:
        fake.stop()
