"""Shared test settings: where the real services of this machine are."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

# The real PostgreSQL the integration tests run against (trust auth). Override with RMA_TEST_POSTGRES_URL.
POSTGRES_URL = os.environ.get("RMA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# The machine's shared Redis, for tests that only add keys of their own (never flush: fault tests run their own).
REDIS_URL = os.environ.get("RMA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.current = now
        self.speed = 1.0

    def now(self) -> datetime:
        return self.current

    def after_real_seconds(self, seconds: float) -> datetime:
        return self.current + timedelta(seconds=seconds * self.speed)

    def advance(self, delta: timedelta) -> None:
        self.current += delta
