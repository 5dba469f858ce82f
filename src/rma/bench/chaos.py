"""`rma chaos`: a bench run while the system is injured, then the audit.

Injuries: a random stage worker SIGKILLed every few seconds (the supervisor restarts it); Redis flushed once;
the run's private PostgreSQL server restarted once (always started again); and workers crashing at named fault
points inside tasks: after the carrier sold a label, after the gateway paid, after a message was sent, and after a
state change committed but before its messages were published. Each of those fires once per run.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from rma.adapters.clock import AcceleratedClock
from rma.adapters.db.audit import run_audit
from rma.bench.carrier import CHAOS_FAULTS, CarrierAccount, CarrierKind, carrier_account
from rma.bench.harness import API_KEY, BenchStack, start_bench_stack
from rma.client import ReturnsClient
from rma.demo.generate import generate
from rma.logging import get_logger
from rma.services.flow import ANNOUNCED

log = get_logger(__name__)

FAULTS = {
    "worker-labels": "labels.after_carrier=exit-once",
    "worker-refunds": "refunds.after_gateway=exit-once",
    "worker-notify": "notify.after_send=exit-once",
    "worker-issuance": "outbox.after_commit=exit-once",
}


CHAOS_CLOCK_SPEED = 172_800.0


@dataclass
class ChaosPlan:
    returns: int = 300
    kill_every: float = 4.0
    flush_redis: bool = True
    restart_postgres: bool = True
    timeout: float = 600.0
    seed: int = 5
    carrier: CarrierKind = "sandbox"  # "easypost": the fake EasyPost server, answering some calls 429 or 5xx


@dataclass
class Injuries:
    kills: list[str] = field(default_factory=list)
    recoveries: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _recovery(stack: BenchStack, since: float, before: int, *, limit: float = 120.0) -> float | None:
    """Seconds from an injury until returns close again."""
    while time.monotonic() - since < limit:
        if stack.finished() > before:
            return round(time.monotonic() - since, 1)
        time.sleep(0.25)
    return None


def restart_postgres(stack: BenchStack) -> str:
    """Restart the run's private PostgreSQL server (fast shutdown, then start on the same data); it is always left
    running. A server the run was given (--database-url) is not the run's to restart."""
    if stack.postgres is None:
        raise RuntimeError("the run is in a PostgreSQL it was given (--database-url), not its own")
    try:
        stack.postgres.restart()
    finally:
        if not stack.postgres.accepts_connections():
            stack.postgres.start()
    return stack.postgres_settings.get("server_version", "").split(" ")[0]


def _injure(stack: BenchStack, plan: ChaosPlan, done: threading.Event, injuries: Injuries) -> None:
    rng = random.Random(plan.seed)  # noqa: S311 - reproducible chaos, not security
    workers = [name for name in stack.supervisor.names() if name.startswith("worker-")]
    flushed = restarted = False
    while not done.wait(plan.kill_every):
        victim = rng.choice(workers)
        stack.supervisor.kill(victim, signal.SIGKILL)
        injuries.kills.append(victim)
        before = stack.finished()
        injuries.recoveries.setdefault(f"sigkill {victim}", _recovery(stack, time.monotonic(), before))
        # The flush after the first kill and the restart after the second: early, while there is work in flight.
        if plan.flush_redis and not flushed:
            flushed = True
            before, at = stack.finished(), time.monotonic()
            stack.redis().flushall()
            injuries.recoveries["redis flushall"] = _recovery(stack, at, before)
        if plan.restart_postgres and not restarted and len(injuries.kills) >= 2:
            restarted = True
            before, at = stack.finished(), time.monotonic()
            try:
                version = restart_postgres(stack)
            except (RuntimeError, OSError) as exc:
                injuries.notes.append(f"PostgreSQL restart skipped: {exc}")
            else:
                injuries.notes.append(f"PostgreSQL {version} restarted")
                injuries.recoveries["postgres restart"] = _recovery(stack, at, before)


def run_chaos(plan: ChaosPlan, *, database_url: str | None, workdir: Path) -> dict[str, Any]:
    epoch = time.time()
    faults = CHAOS_FAULTS if plan.carrier == "easypost" else None
    with carrier_account(plan.carrier, clock_epoch=epoch, clock_speed=CHAOS_CLOCK_SPEED, faults=faults) as account:
        return _run(plan, database_url, workdir, account, epoch)


def _run(
    plan: ChaosPlan, database_url: str | None, workdir: Path, account: CarrierAccount, epoch: float
) -> dict[str, Any]:
    markers = workdir / "fault-markers"
    markers.mkdir(parents=True, exist_ok=True)
    stack = start_bench_stack(
        database_url=database_url,
        workdir=workdir,
        # A short run: two application days per second let every parcel arrive (or its label expire) in seconds.
        extra_env={
            "RMA_FAULT_MARKERS": str(markers),
            "RMA_REDRIVE_AFTER_SECONDS": "5",
            "RMA_CLOCK_SPEED": repr(CHAOS_CLOCK_SPEED),
            "RMA_CLOCK_EPOCH": repr(epoch),
            **account.env(),
        },
        per_process_env={name: {"RMA_FAULTS": fault} for name, fault in FAULTS.items()},
    )
    injuries = Injuries()
    done = threading.Event()
    try:
        with ReturnsClient(stack.api_url, API_KEY, timeout=60) as client:
            requests = generate(plan.returns, today=stack.today(), seed=plan.seed)
            submitted = sum(len(client.submit_batch(requests[i : i + 200])) for i in range(0, len(requests), 200))
        injurer = threading.Thread(target=_injure, args=(stack, plan, done, injuries), daemon=True)
        injurer.start()
        deadline = time.monotonic() + plan.timeout
        while time.monotonic() < deadline and stack.finished() < submitted:
            stack.supervisor.check()
            time.sleep(0.5)
        done.set()
        injurer.join(timeout=180)
        # Let the last restarts settle, then give stragglers their final re-drive.
        settle = time.monotonic() + 120
        while time.monotonic() < settle and stack.finished() < submitted:
            stack.supervisor.check()
            time.sleep(0.5)
        clock = AcceleratedClock(epoch=float(stack.env["RMA_CLOCK_EPOCH"]), speed=float(stack.env["RMA_CLOCK_SPEED"]))
        with Session(stack.engine) as session:
            audit = run_audit(
                session, now=clock.now(), real_now=datetime.now(UTC), announced=ANNOUNCED, carrier=account.records()
            )
        fired = sorted(p.name for p in markers.iterdir())
        completed = stack.finished()
        return {
            "submitted": submitted,
            "completed": completed,
            # Not closed and not parked for a person at the end of the run: lost.
            "lost": submitted - completed - audit.needs_attention,
            "needs_attention": audit.needs_attention,
            "duplicate_labels": audit.violations["duplicate_labels"],
            "duplicate_refunds": audit.violations["duplicate_refunds"],
            "over_refunds": audit.violations["over_refunded_lines"] + audit.violations["over_refunded_orders"],
            "audit_sound": audit.sound,
            "violations": audit.violations,
            "kills": len(injuries.kills),
            "fault_points_fired": fired,
            "recovery_seconds": injuries.recoveries,
            "notes": injuries.notes,
            "carrier": account.figures(),
        }
    finally:
        done.set()
        stack.stop()
