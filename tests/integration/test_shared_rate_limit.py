"""The carrier account's rate limit, shared through the machine's real Redis by separate processes: together they
never go above it, and every request they wanted to make is made (they wait; nothing is dropped)."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
from tests.conftest import REDIS_URL

from rma.adapters.ratelimit import SharedRateLimit, storage_url, window_for

pytestmark = pytest.mark.integration
LIMIT = 20
PER_PROCESS = 20


def _caller(account: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    limit = SharedRateLimit(REDIS_URL, per_second=LIMIT, account=account)
    stamps = []
    for _ in range(PER_PROCESS):
        limit.acquire()
        stamps.append(time.time())
    out.put(stamps)


def test_three_processes_stay_within_one_limit_and_drop_nothing() -> None:
    account = f"test-{uuid.uuid4().hex[:8]}"
    out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
    context = multiprocessing.get_context("spawn")
    callers = [context.Process(target=_caller, args=(account, out)) for _ in range(3)]
    for process in callers:
        process.start()
    stamps = sorted(stamp for _ in callers for stamp in out.get(timeout=60))
    for process in callers:
        process.join(timeout=10)
    assert len(stamps) == 3 * PER_PROCESS  # every request went out
    low = 0
    busiest = 0
    for high, moment in enumerate(stamps):
        while stamps[low] <= moment - 1.0:
            low += 1
        busiest = max(busiest, high - low + 1)
    assert busiest <= LIMIT  # as stamped by the callers after each grant, a little later than the limiter saw it
    # 60 requests at 18 per second (a margin below 20): the last ones wait for three windows to pass.
    assert stamps[-1] - stamps[0] >= 2.9


def test_rates_below_one_per_second_and_where_the_limit_is_kept() -> None:
    assert window_for(20) == (18, 1)  # 10% below the account's limit
    assert window_for(5) == (4, 1)  # at least one request below it
    assert window_for(1.5) == (1, 1)
    assert window_for(0.5) == (1, 2)
    assert storage_url("", "redis://broker:6379/0") == "redis://broker:6379/0"
    assert storage_url("redis://limits:6379/3", "redis://broker:6379/0") == "redis://limits:6379/3"
    assert storage_url("", "memory://") == "memory://"  # the embedded demo: one process is the deployment
    with pytest.raises(ValueError, match="positive"):
        SharedRateLimit("memory://", per_second=0, account="x")
