"""Time."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The application's current time (timezone-aware UTC). Simulated clocks run faster than real time."""

    def after_real_seconds(self, seconds: float) -> datetime:
        """The application time `seconds` of wall-clock time from now (message deadlines are wall-clock)."""
