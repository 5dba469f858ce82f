"""The measurements `rma bench` takes. Each returns plain numbers; the report formats them."""

from __future__ import annotations

import http.client
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import redis
from celery import Celery, chain
from sqlalchemy import Engine, select

from rma.adapters.db.tables import TimelineRow
from rma.client import ReturnsClient
from rma.domain.lifecycle import Status
from rma.domain.requests import ReturnRequest
from rma.worker.queues import Queue
from rma.worker.tasks.bench import BENCH_COUNTER

# The queues one returned-and-refunded RMA visits, in order, as separate task hops.
RMA_HOPS = (
    Queue.ISSUANCE,
    Queue.LABELS,
    Queue.NOTIFY,
    Queue.TRACKING,
    Queue.INSPECTION,
    Queue.REFUNDS,
    Queue.NOTIFY,
    Queue.MAINTENANCE,
)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    if len(values) == 1:
        return {"p50": values[0], "p95": values[0], "p99": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 4), "p95": round(cuts[94], 4), "p99": round(cuts[98], 4)}


@dataclass(frozen=True, slots=True)
class _Proc:
    ppid: int
    comm: str
    cpu_ticks: int  # own user + system time, plus that of children already reaped
    rss: int


def _processes() -> dict[int, _Proc]:
    table: dict[int, _Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        head, tail = stat.rsplit(")", 1)
        fields = tail.split()
        rss = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        # fields[0] is the state (field 3 of stat); utime, stime, cutime, cstime are fields 14-17.
        ticks = sum(int(value) for value in fields[11:15])
        table[int(entry.name)] = _Proc(int(fields[1]), head.split("(", 1)[1], ticks, rss)
    return table


def _trees(table: dict[int, _Proc], roots: dict[str, int]) -> dict[str, list[_Proc]]:
    """Each named root process with all its descendants (a prefork worker is a parent and its pool)."""
    children: dict[int, list[int]] = {}
    for child, proc in table.items():
        children.setdefault(proc.ppid, []).append(child)
    trees: dict[str, list[_Proc]] = {}
    for name, pid in roots.items():
        found, todo = [], [pid]
        while todo:
            current = todo.pop()
            if current in table:
                found.append(table[current])
            todo.extend(children.get(current, []))
        trees[name] = found
    return trees


def rss_bytes(pids: dict[str, int]) -> dict[str, int]:
    """Resident memory of each named process tree, from one reading of /proc."""
    return {name: sum(proc.rss for proc in tree) for name, tree in _trees(_processes(), pids).items()}


def cpu_seconds(pids: dict[str, int], *, by_command: tuple[str, ...] = ("postgres",)) -> dict[str, float]:
    """CPU time (user + system) used so far by each named process tree, and by every process whose command is one of
    `by_command` (PostgreSQL's backends are not our children). Differences of two readings show where the cores went."""
    table = _processes()
    hertz = os.sysconf("SC_CLK_TCK")
    spent = {name: sum(proc.cpu_ticks for proc in tree) / hertz for name, tree in _trees(table, pids).items()}
    for command in by_command:
        spent[command] = sum(proc.cpu_ticks for proc in table.values() if proc.comm == command) / hertz
    return spent


def bare_chain_rate(app: Celery, redis_url: str, *, chains: int, timeout: float) -> float:
    """Chains of no-op tasks through the same queues an RMA visits, on the same workers: Celery's own ceiling."""
    client = redis.Redis.from_url(redis_url)
    client.set(BENCH_COUNTER, 0)
    started = time.monotonic()
    with app.producer_or_acquire() as producer:
        for _ in range(chains):
            hops = [app.signature(f"{queue.value}.noop", immutable=True) for queue in RMA_HOPS[:-1]]
            hops.append(app.signature(f"{RMA_HOPS[-1].value}.noop", kwargs={"last": True}, immutable=True))
            chain(*hops).apply_async(producer=producer)
    deadline = started + timeout
    while time.monotonic() < deadline:
        if int(client.get(BENCH_COUNTER) or 0) >= chains:
            break
        time.sleep(0.05)
    done = int(client.get(BENCH_COUNTER) or 0)
    return done / (time.monotonic() - started)


def raw_publish_rate(app: Celery, *, messages: int) -> float:
    """Celery's own publish rate from one process with a held producer (single-request intake's yardstick)."""
    started = time.monotonic()
    with app.producer_or_acquire() as producer:
        for _ in range(messages):
            app.send_task(f"{Queue.MAINTENANCE.value}.noop", producer=producer)
    return messages / (time.monotonic() - started)


@dataclass
class IntakeFigures:
    accepted: int
    per_second: float
    latency: dict[str, float]


class _Poster:
    """One keep-alive HTTP/1.1 connection per load-generator thread. The standard library's client rather than httpx:
    the load generator shares the cores with the system it measures, and httpx costs about a millisecond of CPU per
    request, as much as the API's own handling of it."""

    def __init__(self, api_url: str, api_key: str, *, timeout: float) -> None:
        url = urlsplit(api_url)
        self._connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=timeout)
        self._headers = {"X-API-Key": api_key, "Content-Type": "application/json"}

    def post(self, path: str, body: str) -> int:
        self._connection.request("POST", path, body=body.encode(), headers=self._headers)
        response = self._connection.getresponse()
        response.read()
        return response.status


Item = TypeVar("Item")
Result = TypeVar("Result")


def _timed_calls(
    items: Sequence[Item], connect: Callable[[], Callable[[Item], Result]], *, threads: int
) -> tuple[list[Result], list[float], float]:
    """Call on every item from `threads` threads, each with its own caller from `connect` (a keep-alive connection);
    answers the results, each call's latency and the wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def call(item: Item) -> Result:
        caller = getattr(local, "caller", None)
        if caller is None:
            caller = local.caller = connect()
        t0 = time.perf_counter()
        result = caller(item)
        elapsed = time.perf_counter() - t0
        with lock:
            latencies.append(elapsed)
        return result

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(call, items))
    return results, latencies, time.monotonic() - started


def _timed_posts(
    api_url: str, api_key: str, path: str, bodies: Sequence[str], *, threads: int, timeout: float
) -> tuple[list[int], list[float], float]:
    """POST every body from `threads` threads; answers the status codes, the latencies and the wall time."""

    def connect() -> Callable[[str], int]:
        poster = _Poster(api_url, api_key, timeout=timeout)
        return lambda body: poster.post(path, body)

    return _timed_calls(bodies, connect, threads=threads)


def intake_single(api_url: str, api_key: str, requests: Sequence[ReturnRequest], *, threads: int) -> IntakeFigures:
    bodies = [request.model_dump_json() for request in requests]
    codes, latencies, wall = _timed_posts(api_url, api_key, "/v1/returns", bodies, threads=threads, timeout=60)
    accepted = sum(code == 202 for code in codes)
    return IntakeFigures(accepted, accepted / wall, percentiles(latencies))


def intake_client(api_url: str, api_key: str, requests: Sequence[ReturnRequest], *, threads: int) -> IntakeFigures:
    def connect() -> Callable[[ReturnRequest], bool]:
        client = ReturnsClient(api_url, api_key, timeout=60)
        return lambda request: client.submit(request).created

    results, latencies, wall = _timed_calls(requests, connect, threads=threads)
    return IntakeFigures(len(results), len(results) / wall, percentiles(latencies))


def intake_batch(
    api_url: str, api_key: str, requests: Sequence[ReturnRequest], *, batch_size: int, threads: int
) -> IntakeFigures:
    batches = [requests[i : i + batch_size] for i in range(0, len(requests), batch_size)]
    bodies = ['{"returns": [' + ",".join(r.model_dump_json() for r in batch) + "]}" for batch in batches]
    codes, latencies, wall = _timed_posts(api_url, api_key, "/v1/returns/batch", bodies, threads=threads, timeout=300)
    accepted = sum(len(batch) for batch, code in zip(batches, codes, strict=True) if code == 202)
    return IntakeFigures(accepted, accepted / wall, percentiles(latencies))


@dataclass
class QueueSampler:
    """Samples every queue's length once a second from its own thread, and with `cpu` (CPU seconds the stack has
    used so far) that too: which seconds had work queued, and how busy the cores were in them."""

    redis_url: str
    interval: float = 1.0
    cpu: Callable[[], float] | None = None
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)
    started_wall: float = 0.0  # time.time() of the first sample: where the timeline's timestamps meet these
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        client = redis.Redis.from_url(self.redis_url)
        started = time.monotonic()
        self.started_wall = time.time()

        def loop() -> None:
            while not self._stop.is_set():
                depth = {queue.value: int(client.llen(queue.value)) for queue in Queue}
                when = round(time.monotonic() - started, 1)
                self.samples.append((when, depth))
                if self.cpu is not None:
                    self.cpu_samples.append((when, self.cpu()))
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=loop, name="queue-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def peak(self) -> tuple[int, float]:
        """(largest total backlog, when)."""
        best = max(self.samples, key=lambda s: sum(s[1].values()), default=(0.0, {}))
        return sum(best[1].values()), best[0]

    def drained_after_peak(self) -> float | None:
        """Seconds from the peak until the backlog was gone (under 1% of the peak: beat keeps a few ticks queued)."""
        peak, at = self.peak()
        for when, depth in self.samples:
            if when > at and sum(depth.values()) <= max(5, peak // 100):
                return round(when - at, 1)
        return None


def stage_seconds(engine: Engine, *, clock_speed: float) -> dict[str, dict[str, float]]:
    """Wall-clock time spent in each status (application time divided by the clock's speed), p50/p95/p99."""
    durations: dict[str, list[float]] = {}
    previous: tuple[object, datetime] | None = None
    with engine.connect() as conn:
        rows = conn.execute(
            select(TimelineRow.return_id, TimelineRow.from_status, TimelineRow.at)
            .where(TimelineRow.line_id.is_(None))
            .order_by(TimelineRow.return_id, TimelineRow.seq)
        )
        for return_id, from_status, at in rows:
            if previous is not None and previous[0] == return_id and from_status is not None:
                elapsed = (at - previous[1]) / timedelta(seconds=1) / clock_speed
                durations.setdefault(from_status, []).append(elapsed)
            previous = (return_id, at)
    return {status: percentiles(values) for status, values in sorted(durations.items())}


def cpu_count() -> int:
    return os.cpu_count() or 1


def completion_times(engine: Engine, *, epoch: float, speed: float, since: float) -> list[float]:
    """Wall-clock seconds after `since` (a time.time()) at which each return closed, sorted: the timeline's
    application times mapped back through the clock (application = epoch + (wall - epoch) x speed)."""
    with engine.connect() as conn:
        stamps = conn.scalars(
            select(TimelineRow.at).where(TimelineRow.line_id.is_(None), TimelineRow.to_status == Status.CLOSED.value)
        )
        return sorted(seconds for at in stamps if (seconds := epoch + (at.timestamp() - epoch) / speed - since) >= 0)


def saturated_window(
    queued: Sequence[tuple[float, int]], *, floor: int, settle: float = 3.0
) -> tuple[float, float] | None:
    """The span in which the pipeline is saturated: work waits in its queues. `queued` is (seconds, messages queued
    in every queue) once a second. A span runs from a sample above `floor` to the first sample at or below it from
    which the backlog stays there for `settle` seconds (a worker holding its prefetched batches can leave the queues
    empty for a moment while it is busy; beat's ticks keep a few messages queued in an idle system); the longest
    span is the window, so a late burst (a re-drive, a tick's batch) cannot stand in for the backlog."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    quiet_since: float | None = None
    for when, depth in queued:
        if depth > floor:
            start = when if start is None else start
            quiet_since = None
        elif start is not None:
            quiet_since = when if quiet_since is None else quiet_since
            if when - quiet_since >= settle:
                spans.append((start, quiet_since))
                start = quiet_since = None
    if start is not None:  # still queued (or not quiet for long enough) when the samples end
        spans.append((start, quiet_since if quiet_since is not None else queued[-1][0]))
    return max(spans, key=lambda span: span[1] - span[0], default=None)


def cores_busy(cpu: Sequence[tuple[float, float]], window: tuple[float, float]) -> float | None:
    """Cores the stack kept busy in `window`, from (seconds, CPU seconds used so far) samples: the difference of the
    first and last sample inside it over the time between them."""
    inside = [(when, spent) for when, spent in cpu if window[0] <= when <= window[1]]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
