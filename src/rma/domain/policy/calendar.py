"""Business days: weekends and the public holidays of the policy's calendar country are not business days."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


def is_business_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def roll_forward(day: date, country: str) -> date:
    """`day` itself if it is a business day, else the next one."""
    while not is_business_day(day, country):
        day += timedelta(days=1)
    return day


def add_business_days(day: date, count: int, country: str) -> date:
    """The date `count` business days after `day` (used for inspection and refund deadlines)."""
    while count > 0:
        day += timedelta(days=1)
        if is_business_day(day, country):
            count -= 1
    return day
