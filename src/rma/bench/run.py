"""`rma bench`: intake rates, end-to-end throughput against Celery's own ceiling, queue depths, memory, audit."""

from __future__ import annotations

import bisect
import os
import platform
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rma.adapters.clock import AcceleratedClock
from rma.adapters.db.audit import run_audit
from rma.adapters.db.tables import LabelRow, ReturnRow
from rma.bench import measure
from rma.bench.carrier import CarrierAccount, CarrierKind, carrier_account
from rma.bench.harness import API_KEY, BENCH_CLOCK_SPEED, BenchStack, start_bench_stack
from rma.config import Settings
from rma.demo.generate import generate
from rma.domain.requests import ReturnRequest
from rma.services.flow import ANNOUNCED, BATCH_FORMS, ISSUE_LABEL
from rma.worker.app import create_app
from rma.worker.launch import STAGES
from rma.worker.queues import Queue


@dataclass(frozen=True)
class BenchPlan:
    returns: int = 10_000
    single: int = 1_000
    client: int = 300
    batch_size: int = 500
    chains: int = 2_000
    publish: int = 5_000
    # Concurrent callers of the single endpoint. Intake commits concurrent requests together (group commit), so its
    # rate grows with the number of callers; 32 stands for a few upstream systems, each with a small connection pool.
    threads: int = 32
    # Batch callers: enough connections that the API processes on the one port (SO_REUSEPORT spreads connections,
    # not requests) each get a fair share.
    batch_threads: int = 8
    timeout: float = 1_800.0
    # False: measure intake under the backlog and stop there, without waiting for every return to close (the
    # no-blocking figure at a scale this machine cannot drain within a session).
    drain: bool = True
    probe_after: float = 0.0  # seconds between the end of the batch submission and the probe under load
    carrier: CarrierKind = "sandbox"  # or "easypost": the fake EasyPost server with a real carrier's latency


def _total(stack: BenchStack) -> int:
    with stack.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ReturnRow)) or 0)


def _rss(stack: BenchStack) -> dict[str, int]:
    names = [name for name in stack.supervisor.names() if name.startswith("worker-") and stack.supervisor.alive(name)]
    return measure.rss_bytes({name: stack.supervisor.pid(name) for name in names})


def _rss_report(start: dict[str, int], end: dict[str, int]) -> dict[str, dict[str, float]]:
    return {
        name: {"start": round(start.get(name, 0) / 2**20, 1), "end": round(end.get(name, 0) / 2**20, 1)}
        for name in sorted(start)
    }


def _stage_workers(stack: BenchStack) -> list[str]:
    return [name for name in stack.supervisor.names() if name.startswith("worker-")]


@contextmanager
def _paused(stack: BenchStack, names: list[str]) -> Iterator[None]:
    """SIGSTOP the process groups of `names` (each child runs in its own session), SIGCONT them however it ends."""
    groups = [os.getpgid(stack.supervisor.pid(name)) for name in names]
    try:
        for group in groups:
            os.killpg(group, signal.SIGSTOP)
        yield
    finally:
        for group in groups:
            os.killpg(group, signal.SIGCONT)


def _cpu(stack: BenchStack) -> dict[str, float]:
    pids = {name: stack.supervisor.pid(name) for name in stack.supervisor.names() if stack.supervisor.alive(name)}
    if stack.redis_process is not None:
        pids["redis-server"] = stack.redis_process.pid
    if stack.postgres is not None and stack.postgres.pid is not None:
        # The private server's postmaster: its backends are its children, so the tree is exactly this run's share.
        pids["postgres"] = stack.postgres.pid
        spent = measure.cpu_seconds(pids, by_command=())
    else:
        spent = measure.cpu_seconds(pids)
    own = os.times()
    spent["bench (load generator)"] = own.user + own.system
    return spent


RSS_EVERY_SECONDS = 10.0


def _cpu_report(start: dict[str, float], end: dict[str, float], *, completed: int, elapsed: float) -> dict[str, Any]:
    """Where the cores went during the end-to-end phase: CPU seconds per process, milliseconds per return."""
    used = {name: end[name] - start.get(name, 0.0) for name in end}
    return {
        "seconds": {name: round(value, 1) for name, value in sorted(used.items(), key=lambda kv: -kv[1])},
        "ms_per_return": round(1000 * sum(used.values()) / max(completed, 1), 1),
        "cores_busy": round(sum(used.values()) / elapsed, 2),
    }


def _wait_all_finished(
    stack: BenchStack, timeout: float, memory: list[tuple[int, dict[str, int]]] | None = None
) -> bool:
    """Until every return is closed and its customer told everything. With `memory`, every ten seconds the count of
    finished returns and each worker's RSS are appended to it."""
    deadline = time.monotonic() + timeout
    next_rss = next_count = time.monotonic()
    # Everything has been submitted, so the total is counted once. Counting finished returns reads the whole
    # `returns` table, which a long run rewrites many times over (0.64 s at 100,000 returns): once a second, the
    # bench's own polling took half a core of PostgreSQL by the end of such a run. It counts less often as runs grow.
    total = _total(stack)
    count_every = min(RSS_EVERY_SECONDS, max(1.0, total / 10_000))
    while time.monotonic() < deadline:
        if time.monotonic() >= next_count:
            next_count += count_every
            finished = stack.finished()
            if memory is not None and time.monotonic() >= next_rss:
                memory.append((finished, _rss(stack)))
                next_rss += RSS_EVERY_SECONDS
            if finished >= total:
                if memory is not None:
                    memory.append((finished, _rss(stack)))
                return True
        stack.supervisor.check()
        time.sleep(1)
    return False


def rss_growth(memory: list[tuple[int, dict[str, int]]], total: int) -> dict[str, Any]:
    """Each worker's RSS once the first 10% of the returns had finished, its highest once 90% had, and the growth
    between them in percent (the memory target: at most 10%)."""
    early = next((rss for done, rss in memory if done >= total * 0.1), None)
    late = [rss for done, rss in memory if done >= total * 0.9]
    if early is None or not late:
        return {}
    report: dict[str, Any] = {}
    for name, first in sorted(early.items()):
        highest = max(rss.get(name, 0) for rss in late)
        report[name] = {
            "first_10pct_mib": round(first / 2**20, 1),
            "last_10pct_max_mib": round(highest / 2**20, 1),
            "growth_pct": round(100 * (highest - first) / max(first, 1), 1),
            # The shape over the run (returns finished, MiB) in about ten steps: a leak climbs, a high-water mark
            # reached at peak concurrency stays flat.
            "curve": [
                (done, round(rss.get(name, 0) / 2**20, 1))
                for done, rss in memory[:: max(1, len(memory) // 10)] + memory[-1:]
            ],
        }
    return report


def sustained(
    sampler: measure.QueueSampler, closed_at: list[float], *, cpu_seconds: float, completed: int
) -> dict[str, Any]:
    """Throughput while the pipeline is saturated, without the fixed latency of the simulated waits.

    The window is the span in which work waits in the queues (`measure.saturated_window`). Closings inside it are
    no measure of capacity: in a short run the returns that close then are the ones without a parcel, while the
    parcels' returns close later, after days of application time, on a machine by then half idle. So the window
    gives the pace instead (the cores the stack keeps busy while it has work queued), and the run's own CPU per
    return turns that pace into returns: `completed / (cpu_seconds / cores busy in the window)`, the rate had all
    of the run's work been done at the saturated pace."""
    queued = [(when, sum(depth.values())) for when, depth in sampler.samples]
    peak = max((depth for _, depth in queued), default=0)
    window = measure.saturated_window(queued, floor=max(5, peak // 100))
    busy = None if window is None else measure.cores_busy(sampler.cpu_samples, window)
    per_second = None if busy is None or cpu_seconds <= 0 else round(completed * busy / cpu_seconds, 1)
    step = max(1, len(sampler.cpu_samples) // 60)
    first = sampler.cpu_samples[0][1] if sampler.cpu_samples else 0.0
    return {
        "per_second": per_second,
        "window_seconds": None if window is None else [round(window[0], 1), round(window[1], 1)],
        "cores_busy_in_window": None if busy is None else round(busy, 2),
        "closed_in_window": None if window is None else sum(window[0] <= at <= window[1] for at in closed_at),
        # (seconds, CPU seconds used since, returns closed since): the shape of the run, about 60 points.
        "curve": [
            (when, round(spent - first, 1), bisect.bisect_right(closed_at, when))
            for when, spent in sampler.cpu_samples[::step] + sampler.cpu_samples[-1:]
        ],
    }


def run_bench(
    plan: BenchPlan, *, database_url: str | None, workdir: Path, redis_url: str | None = None
) -> dict[str, Any]:
    epoch = time.time()
    with carrier_account(plan.carrier, clock_epoch=epoch, clock_speed=BENCH_CLOCK_SPEED) as account:
        stack = start_bench_stack(
            database_url=database_url,
            workdir=workdir,
            redis_url=redis_url,
            extra_env={"RMA_CLOCK_EPOCH": repr(epoch), **account.env()},
        )
        try:
            report = _measure(plan, stack, account)
            report["carrier"] = account.figures() | _labels_stage(stack, report)
            return report
        finally:
            stack.stop()


def _labels_stage(stack: BenchStack, report: dict[str, Any]) -> dict[str, Any]:
    """Labels bought per second while the label stage had work (first to last label of the run), its concurrency, and
    the depth of its queue over the run: the stage keeps up when the depth stays bounded."""
    speed, epoch = float(stack.env["RMA_CLOCK_SPEED"]), float(stack.env["RMA_CLOCK_EPOCH"])
    with stack.engine.connect() as conn:
        stamps = sorted(
            epoch + (at.timestamp() - epoch) / speed
            for at in conn.scalars(select(LabelRow.created_at))
            if at is not None
        )
    count = len(stamps)
    # The busiest 10 seconds of label purchases: the stage's rate while it had a backlog to work through.
    window, low, busiest = 10.0, 0, 0
    for high, moment in enumerate(stamps):
        while stamps[low] <= moment - window:
            low += 1
        busiest = max(busiest, high - low + 1)
    depths = [depth.get(Queue.LABELS.value, 0) for _, depth in report.get("queues", {}).get("samples", [])]
    spec = STAGES["labels"]
    return {
        "labels": count,
        "labels_per_second_busiest_10s": round(busiest / window, 1),
        "labels_stage": f"{spec.pool} x {spec.concurrency}, {BATCH_FORMS[ISSUE_LABEL][1]} labels per message",
        "carrier_calls_in_flight_per_process": int(stack.env.get("RMA_EASYPOST_CONCURRENCY", "0")) or None,
        "labels_queue_peak": max(depths, default=0),
        "labels_queue_samples": depths,
    }


def _intake_idle(plan: BenchPlan, stack: BenchStack, *, raw_publish: float) -> tuple[dict[str, Any], int]:
    """Intake on an idle system; answers the report's section and the returns it submitted.

    First with the stage workers paused, as they are idle while raw publishing is measured: intake's own rate, the
    like-for-like figure against raw publish. Then with the workers consuming what intake sends (the idle latency
    the backlog probe is compared with), and through the Python client."""
    with _paused(stack, _stage_workers(stack)):
        alone = measure.intake_single(
            stack.api_url, API_KEY, generate(plan.single, today=stack.today(), seed=100), threads=plan.threads
        )
    single = measure.intake_single(
        stack.api_url, API_KEY, generate(plan.single, today=stack.today(), seed=101), threads=plan.threads
    )
    client = measure.intake_client(
        stack.api_url, API_KEY, generate(plan.client, today=stack.today(), seed=102), threads=plan.threads
    )
    return {
        "single_workers_paused": alone.__dict__,
        "single": single.__dict__,
        "client": client.__dict__,
        "single_vs_raw_publish": round(alone.per_second / raw_publish, 3),
    }, alone.accepted + single.accepted + client.accepted


def _intake_burst(plan: BenchPlan, stack: BenchStack, requests: list[ReturnRequest]) -> dict[str, Any]:
    """The end-to-end phase's submission of N returns through the batch endpoint, then single requests probing intake
    under the backlog. The first half is submitted with the stage workers paused (the batch endpoint's own rate, as
    for the single one), the second while they consume it: a burst absorbed, then intake sharing the cores."""
    half = len(requests) // 2
    with _paused(stack, _stage_workers(stack)):
        alone = measure.intake_batch(
            stack.api_url, API_KEY, requests[:half], batch_size=plan.batch_size, threads=plan.batch_threads
        )
    batch = measure.intake_batch(
        stack.api_url, API_KEY, requests[half:], batch_size=plan.batch_size, threads=plan.batch_threads
    )
    time.sleep(plan.probe_after)  # let the backlog reach every stage
    # The same client threads as the idle figure: latency is compared like for like.
    loaded = measure.intake_single(
        stack.api_url, API_KEY, generate(300, today=stack.today(), seed=104), threads=plan.threads
    )
    return {
        "intake_batch_workers_paused": alone.__dict__,
        "intake_batch": batch.__dict__,
        "intake_under_load": loaded.__dict__,
    }


def _measure(plan: BenchPlan, stack: BenchStack, account: CarrierAccount) -> dict[str, Any]:
    speed = float(stack.env["RMA_CLOCK_SPEED"])
    app = create_app(Settings(broker_url=stack.redis_url))
    time.sleep(3)  # let every worker finish starting
    rss_start = _rss(stack)
    report: dict[str, Any] = {
        "machine": {"cpus": measure.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "plan": plan.__dict__,
        "workers": {stage: f"{spec.pool} x {spec.concurrency}" for stage, spec in STAGES.items()},
        "postgres": {"server": "private" if stack.postgres is not None else "given", **stack.postgres_settings},
    }

    # 1. Celery's own ceiling on this layout: bare chains with the hops an RMA takes, then raw publishing.
    report["bare_chain_per_second"] = round(
        measure.bare_chain_rate(app, stack.redis_url, chains=plan.chains, timeout=600), 1
    )
    report["raw_publish_per_second"] = round(measure.raw_publish_rate(app, messages=plan.publish), 1)
    time.sleep(2)

    # 2. Intake on an idle system.
    report["intake_idle"], idle_accepted = _intake_idle(plan, stack, raw_publish=report["raw_publish_per_second"])
    _wait_all_finished(stack, plan.timeout)

    # 3. End to end: N returns through the batch endpoint; queue depths sampled; intake probed under the backlog.
    sampler = measure.QueueSampler(stack.redis_url, cpu=lambda: sum(_cpu(stack).values()))
    sampler.start()
    cpu_start = _cpu(stack)
    requests = generate(plan.returns, today=stack.today(), seed=103)
    started = time.monotonic()
    report |= _intake_burst(plan, stack, requests)
    idle_p99 = report["intake_idle"]["single"]["latency"]["p99"]
    report["no_blocking_p99_ratio"] = round(report["intake_under_load"]["latency"]["p99"] / max(idle_p99, 1e-9), 2)
    if not plan.drain:
        sampler.stop()
        with stack.engine.connect() as conn:
            waiting = int(conn.scalar(select(func.count()).where(ReturnRow.status != "closed")) or 0)
        queued = sampler.samples[-1][1] if sampler.samples else {}
        report["backlog_at_probe"] = {"returns_not_closed": waiting, "queued_messages": queued}
        report["end_to_end"] = {"returns": plan.returns, "finished": None, "skipped": "--no-drain"}
        report["rss_mib"] = _rss_report(rss_start, _rss(stack))
        return report
    memory: list[tuple[int, dict[str, int]]] = []
    finished = _wait_all_finished(stack, plan.timeout, memory)
    elapsed = time.monotonic() - started
    sampler.stop()
    cpu_end = _cpu(stack)
    peak, peak_at = sampler.peak()
    completed = _total(stack) - idle_accepted
    rss_end = _rss(stack)
    report["end_to_end"] = {
        "returns": completed,
        "finished": finished,
        "seconds": round(elapsed, 1),
        "completed_per_second": round(completed / elapsed, 1),
        "stage_seconds": measure.stage_seconds(stack.engine, clock_speed=speed),
    }
    # Whole run: from the start of the submission to the last return closed, the simulated waits included.
    report["whole_run_per_second"] = report["end_to_end"]["completed_per_second"]
    report["ratio_to_bare_chain"] = report["whole_run_ratio_to_bare_chain"] = round(
        report["whole_run_per_second"] / report["bare_chain_per_second"], 3
    )
    report["queues"] = {
        "peak_backlog": peak,
        "peak_at_seconds": peak_at,
        "drained_seconds_after_peak": sampler.drained_after_peak(),
        "samples": sampler.samples[:: max(1, len(sampler.samples) // 60)],
    }
    report["cpu_end_to_end"] = _cpu_report(cpu_start, cpu_end, completed=completed, elapsed=elapsed)
    closed_at = measure.completion_times(
        stack.engine, epoch=float(stack.env["RMA_CLOCK_EPOCH"]), speed=speed, since=sampler.started_wall
    )
    report["sustained"] = sustained(
        sampler, closed_at, cpu_seconds=sum(cpu_end.values()) - sum(cpu_start.values()), completed=completed
    )
    report["sustained_per_second"] = report["sustained"]["per_second"]
    report["sustained_ratio_to_bare_chain"] = (
        None
        if report["sustained_per_second"] is None
        else round(report["sustained_per_second"] / report["bare_chain_per_second"], 3)
    )
    report["rss_mib"] = _rss_report(rss_start, rss_end)
    already = idle_accepted  # finished before the end-to-end phase began
    report["rss_over_run"] = rss_growth([(done - already, rss) for done, rss in memory], completed)
    with stack.engine.connect() as conn, conn.begin(), Session(bind=conn) as session:
        clock = AcceleratedClock(epoch=float(stack.env["RMA_CLOCK_EPOCH"]), speed=speed)
        audit = run_audit(
            session, now=clock.now(), real_now=datetime.now(UTC), announced=ANNOUNCED, carrier=account.records()
        )
    report["audit"] = {"sound": audit.sound, "violations": audit.violations, "by_status": audit.by_status}
    return report
