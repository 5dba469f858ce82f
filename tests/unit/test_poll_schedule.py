"""When a parcel is polled next (pure: the carrier's answer and the timing in, a time out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rma.ports.providers import TrackingState, TrackingUpdate
from rma.services.flow import Timing
from rma.services.tracking import next_poll_at

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TIMING = Timing(poll_every=timedelta(hours=6), poll_max_gap=timedelta(hours=24))


def _update(estimate: datetime | None) -> TrackingUpdate:
    return TrackingUpdate(tracking_number="1ZSBX1", state=TrackingState.IN_TRANSIT, at=NOW, estimated_delivery=estimate)


def test_without_an_estimate_the_regular_interval() -> None:
    assert next_poll_at(NOW, _update(None), TIMING) == NOW + timedelta(hours=6)


def test_an_estimate_ahead_sets_the_next_poll_up_to_the_longest_gap() -> None:
    assert next_poll_at(NOW, _update(NOW + timedelta(hours=15)), TIMING) == NOW + timedelta(hours=15)
    assert next_poll_at(NOW, _update(NOW + timedelta(days=4)), TIMING) == NOW + timedelta(hours=24)


def test_an_estimate_sooner_than_the_interval_is_polled_at_the_estimate() -> None:
    assert next_poll_at(NOW, _update(NOW + timedelta(hours=2)), TIMING) == NOW + timedelta(hours=2)


def test_an_estimate_already_past_falls_back_to_the_interval() -> None:
    assert next_poll_at(NOW, _update(NOW - timedelta(hours=1)), TIMING) == NOW + timedelta(hours=6)


def test_a_gap_shorter_than_the_interval_never_polls_more_often_than_the_interval() -> None:
    tight = Timing(poll_every=timedelta(hours=6), poll_max_gap=timedelta(hours=1))
    assert next_poll_at(NOW, _update(NOW + timedelta(days=3)), tight) == NOW + timedelta(hours=6)
