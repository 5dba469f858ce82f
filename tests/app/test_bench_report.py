"""The bench's memory figure: RSS once the first 10% of a run finished against the highest in its last 10%."""

from __future__ import annotations

from rma.bench.run import rss_growth

MIB = 2**20


def test_growth_compares_the_first_tenth_with_the_highest_reading_of_the_last_tenth() -> None:
    memory = [
        (0, {"worker-labels": 90 * MIB}),  # warming up: before 10% is done, not the baseline
        (120, {"worker-labels": 100 * MIB}),
        (500, {"worker-labels": 140 * MIB}),  # mid-run peak: not in the last 10%
        (900, {"worker-labels": 108 * MIB}),
        (1000, {"worker-labels": 105 * MIB}),
    ]
    assert rss_growth(memory, 1000) == {
        "worker-labels": {"first_10pct_mib": 100.0, "last_10pct_max_mib": 108.0, "growth_pct": 8.0}
    }


def test_no_figure_without_readings_at_both_ends() -> None:
    assert rss_growth([(50, {"worker-labels": MIB})], 1000) == {}
    assert rss_growth([], 1000) == {}
