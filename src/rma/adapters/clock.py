"""Clocks. The accelerated clock lets the demo and tests live through days of carrier time in seconds.

Every process computes the same simulated time from the same two numbers (a real start instant and a speed), so
workers, beat and the API agree on "now" without talking to each other.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def after_real_seconds(self, seconds: float) -> datetime:
        return self.now() + timedelta(seconds=seconds)


class AcceleratedClock:
    """Application time = `epoch` + (wall time since `epoch`) x `speed`."""

    def __init__(self, *, epoch: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.epoch = epoch
        self.speed = speed

    def now(self) -> datetime:
        elapsed = (time.time() - self.epoch) * self.speed
        return datetime.fromtimestamp(self.epoch, UTC) + timedelta(seconds=elapsed)

    def after_real_seconds(self, seconds: float) -> datetime:
        return self.now() + timedelta(seconds=seconds * self.speed)
