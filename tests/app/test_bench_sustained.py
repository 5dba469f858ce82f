"""The bench's sustained figure: the window in which the pipeline is saturated, the cores busy in it, and the rate it
gives, on synthetic series (a real run is `rma bench`; its figures are printed, never asserted)."""

from __future__ import annotations

from rma.bench.measure import QueueSampler, cores_busy, saturated_window
from rma.bench.run import sustained


def _series(depths: list[int]) -> list[tuple[float, int]]:
    return [(float(second), depth) for second, depth in enumerate(depths)]


def test_the_window_runs_from_the_first_backlog_to_the_quiet_after_the_peak() -> None:
    depths = [1, 2, 40, 55, 0, 60, 30, 8, 2, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 90, 80, 0, 0, 0, 0]
    # 1-2 messages are beat's ticks (at most the floor); the 0 at 4 s is a worker holding its prefetched batches, too
    # short to end the window; from 8 s the backlog stays at the floor or below for 3 s. The burst at 20-21 s is
    # larger but shorter: not the backlog.
    assert saturated_window(_series(depths), floor=5) == (2.0, 8.0)


def test_a_backlog_still_there_at_the_end_closes_the_window_at_the_last_sample() -> None:
    assert saturated_window(_series([0, 20, 30, 25]), floor=5) == (1.0, 3.0)
    assert saturated_window(_series([0, 20, 30, 2, 1]), floor=5) == (1.0, 3.0)  # quiet, but not yet for 3 s


def test_no_window_when_nothing_was_ever_queued_beyond_the_floor() -> None:
    assert saturated_window(_series([0, 3, 5, 1]), floor=5) is None
    assert saturated_window([], floor=5) is None


def test_cores_busy_is_the_cpu_used_between_the_first_and_last_sample_inside_the_window() -> None:
    cpu = [(0.0, 100.0), (1.0, 101.0), (2.0, 102.9), (3.0, 104.9), (4.0, 106.7), (5.0, 107.0)]
    assert cores_busy(cpu, (1.0, 4.0)) == (106.7 - 101.0) / 3.0
    assert cores_busy(cpu, (4.5, 4.9)) is None  # no two samples inside


def _sampler(depths: list[int], cores: list[float]) -> QueueSampler:
    sampler = QueueSampler("redis://unused")
    sampler.samples = [(float(second), {"rma.issuance": depth}) for second, depth in enumerate(depths)]
    spent, sampler.cpu_samples = 0.0, []
    for second, busy in enumerate(cores):
        sampler.cpu_samples.append((float(second), spent))
        spent += busy
    return sampler


def test_the_sustained_rate_is_the_run_done_at_the_saturated_pace_whatever_the_idle_tail() -> None:
    # 20 s with work queued and both cores busy, then parcels on the road: the cores idle while returns close.
    busy, tail = [2.0] * 20, [0.0] * 60
    depths = [50] * 20 + [0] * 60
    cpu_seconds = sum(busy)  # what the phase's CPU reading says
    completed = round(cpu_seconds / 0.04)  # 40 ms of CPU per return
    closed_at = [20.0 + i * 59 / completed for i in range(completed)]  # every closing after the window
    figures = sustained(_sampler(depths, busy + tail), closed_at, cpu_seconds=cpu_seconds, completed=completed)
    assert figures["window_seconds"] == [0.0, 20.0]
    assert figures["cores_busy_in_window"] == 2.0
    assert figures["closed_in_window"] == 1  # the one closing at exactly 20 s: closings are not the measure
    assert figures["per_second"] == round(completed * 2.0 / cpu_seconds, 1) == 50.0  # 2 cores / 40 ms
    assert completed / 80 < 0.5 * figures["per_second"]  # the whole-run rate, held down by the tail

    # The same work with a tail twice as long: the whole-run rate drops, the sustained one does not (beat's ticks
    # would add their own CPU to the tail, a few percent of a short run's: BENCHMARKS.md).
    longer = sustained(_sampler(depths + [0] * 60, busy + tail + tail), closed_at, cpu_seconds=40.0, completed=1000)
    assert longer["per_second"] == figures["per_second"]
    assert figures["curve"][0] == (0.0, 0.0, 0)
    assert figures["curve"][-1][2] == completed


def test_no_sustained_figure_without_a_saturated_window() -> None:
    figures = sustained(_sampler([0, 1, 2, 1], [0.1] * 4), [1.0], cpu_seconds=0.4, completed=1)
    assert figures["per_second"] is None
    assert figures["window_seconds"] is None
