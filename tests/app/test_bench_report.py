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
    figures = rss_growth(memory, 1000)["worker-labels"]
    assert (figures["first_10pct_mib"], figures["last_10pct_max_mib"], figures["growth_pct"]) == (100.0, 108.0, 8.0)
    assert figures["curve"][0] == (0, 90.0)
    assert figures["curve"][-1] == (1000, 105.0)


def test_no_figure_without_readings_at_both_ends() -> None:
    assert rss_growth([(50, {"worker-labels": MIB})], 1000) == {}
    assert rss_growth([], 1000) == {}
