"""A request rate shared by every process that calls one provider account (the carrier's API quota).

A moving window kept in Redis by `limits` (one Lua script per hit, so processes never race past the limit): at most
`amount` requests in any `period` seconds, across every worker process of the deployment, a margin below the account's
limit (`window_for`). A caller over the limit waits until the window has room; nothing is dropped."""

from __future__ import annotations

import math
import random
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from rma.logging import get_logger

log = get_logger(__name__)


def window_for(per_second: float) -> tuple[int, int]:
    """(amount, seconds) we keep to for an account limit of `per_second`: 10% below it (at least one request below
    from 2/s), since a request is counted here a network hop before the carrier counts it, and the processes' clocks
    differ by a little; 0.5/s is 1 per 2 seconds."""
    if per_second >= 1:
        return max(1, min(math.floor(per_second * 0.9), math.floor(per_second) - 1)), 1
    return 1, math.ceil(1 / per_second)


class SharedRateLimit:
    def __init__(self, storage_url: str, *, per_second: float, account: str) -> None:
        if per_second <= 0:
            raise ValueError("a rate limit needs a positive rate")
        amount, seconds = window_for(per_second)
        self._item = RateLimitItemPerSecond(amount, seconds, namespace="rma-carrier")
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        self._account = account

    def acquire(self) -> None:
        """Block until one more request fits in the account's window."""
        while not self._limiter.hit(self._item, self._account):
            reset = self._limiter.get_window_stats(self._item, self._account).reset_time
            # A little jitter: the processes woken by one reset must not all retry in the same millisecond.
            pause = max(0.001, reset - time.time()) + random.uniform(0, 0.005)  # noqa: S311 - jitter
            time.sleep(min(pause, 1.0))


def storage_url(limit_url: str, broker_url: str) -> str:
    """Redis for a deployment (the limit's own URL, else the broker's when it is Redis); in-process memory for the
    embedded demo, where a single process is the whole deployment."""
    if limit_url:
        return limit_url
    if broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    log.info("carrier_rate_limit_in_process", reason="no Redis configured: the limit holds for this process only")
    return "memory://"
