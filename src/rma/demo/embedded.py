"""The embedded run: every stage, beat and the relay in one process, on a SQLite file and kombu's in-memory broker.

The code is the production code: the same tasks, chains, outbox, reconciler and sandbox providers; only the transport
(memory:// instead of Redis), the database (SQLite instead of PostgreSQL) and the clock (days pass in seconds) differ.
"""

from __future__ import annotations

import importlib
import shutil
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from celery import Celery
from celery.beat import Scheduler, Service
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.audit import finished_returns
from rma.adapters.db.tables import LabelRow, RefundRow, ReturnRow, TimelineRow
from rma.bootstrap import Runtime, prepare_database
from rma.config import Settings
from rma.demo.generate import generate
from rma.domain.lifecycle import Status
from rma.domain.money import format_amount
from rma.ports.stores import RefundStatus
from rma.services import documents
from rma.services.intake import submit_batch
from rma.services.labels import slip_key
from rma.worker.app import TASK_MODULES, create_app
from rma.worker.queues import Queue
from rma.worker.runtime import configure, runtime_for

FINAL = frozenset({Status.CLOSED})
SUBMIT_CHUNK = 200


def demo_settings(database: Path, *, speed: float) -> Settings:
    return Settings(
        database_url=f"sqlite:///{database}",
        broker_url="memory://localhost/",
        clock_epoch=time.time(),
        clock_speed=speed,
        auto_inspect=True,
        auto_review=True,
        tracking_tick_seconds=0.25,
        inspection_tick_seconds=0.25,
        notify_tick_seconds=0.25,
        reconcile_seconds=1.0,
        outbox_relay_seconds=0.5,
        redrive_after_seconds=60.0,
        poll_every_hours=12,
        tracking_batch_size=100,
        log_level="ERROR",
        db_pool_size=12,
    )


@dataclass(frozen=True)
class RefundFigures:
    amount_minor: int
    refunds: int


@dataclass
class Summary:
    total: int
    by_status: dict[str, int]
    non_terminal: int
    # Succeeded refunds per currency: the amount in that currency's minor unit (cents for USD) and how many.
    refunds_by_currency: dict[str, RefundFigures]
    wall_seconds: float
    returns_per_second: float
    stage_hours: dict[str, dict[str, float]] = field(default_factory=dict)
    documents: dict[str, object] = field(default_factory=dict)

    @property
    def refunds(self) -> int:
        return sum(figures.refunds for figures in self.refunds_by_currency.values())

    def as_dict(self) -> dict[str, object]:
        # `refund_total` stays the integer it always was, now with its currency: minor units (cents for USD) of
        # `refund_currency`. Refunds in several currencies have no one total: then both are null.
        total: int | None = 0
        currency: str | None = None
        if len(self.refunds_by_currency) == 1:
            [(currency, figures)] = self.refunds_by_currency.items()
            total = figures.amount_minor
        elif self.refunds_by_currency:
            total = None
        return {
            "total": self.total,
            "by_status": self.by_status,
            "non_terminal": self.non_terminal,
            "refund_total": total,
            "refund_currency": currency,
            "refunds_by_currency": {
                code: {
                    "amount_minor": fig.amount_minor,
                    "formatted": format_amount(fig.amount_minor, code),
                    "refunds": fig.refunds,
                }
                for code, fig in sorted(self.refunds_by_currency.items())
            },
            "refunds": self.refunds,
            "wall_seconds": round(self.wall_seconds, 2),
            "returns_per_second": round(self.returns_per_second, 1),
            "time_in_status_hours": self.stage_hours,
            "documents": self.documents,
        }


def _percentile(values: list[float], pct: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


@contextmanager
def _beat(app: Celery) -> Iterator[None]:
    service = Service(app, max_interval=1, scheduler_cls=Scheduler)
    thread = threading.Thread(target=service.start, name="beat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        service.stop(wait=True)
        thread.join(timeout=5)


def run_demo(
    *,
    returns: int,
    database: Path,
    speed: float = 172_800.0,
    seed: int = 7,
    timeout_seconds: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    database.unlink(missing_ok=True)
    settings = demo_settings(database, speed=speed)
    shutil.rmtree(settings.documents_root(), ignore_errors=True)  # the last run's labels went with its database
    app = create_app(settings)
    # No Flower watches the embedded run: task events would only cost time.
    app.conf.update(worker_send_task_events=False, task_send_sent_event=False)
    configure(app, settings)
    for module in TASK_MODULES:
        importlib.import_module(module)
    runtime = runtime_for(app)
    prepare_database(settings, runtime.engine)
    ctx = runtime.ctx
    deadline = time.monotonic() + (timeout_seconds or max(120.0, returns * 0.3))
    started = time.monotonic()
    with (
        start_worker(
            app,
            pool="threads",
            concurrency=8,
            perform_ping_check=False,
            loglevel="ERROR",  # the summary is the output
            queues=[queue.value for queue in Queue],
            shutdown_timeout=30,
        ),
        _beat(app),
    ):
        requests = generate(returns, today=ctx.clock.now().date(), seed=seed)
        for start in range(0, len(requests), SUBMIT_CHUNK):
            submit_batch(
                ctx.uow, requests[start : start + SUBMIT_CHUNK], now=ctx.clock.now(), due_at=ctx.machine_deadline()
            )
        while time.monotonic() < deadline:
            done = _count_final(runtime.sessions)
            if progress is not None:
                progress(done, returns)
            if done >= returns:
                break
            time.sleep(0.25)
    wall = time.monotonic() - started
    summary = _summarise(runtime.sessions, returns, wall)
    summary.documents = _documents(runtime, settings.documents_root())
    runtime.close()
    return summary


def _documents(runtime: Runtime, root: Path) -> dict[str, object]:
    """Where the labels went, and one label with its packing slip to open."""
    with runtime.sessions() as session:
        labelled = int(session.scalar(select(func.count()).where(LabelRow.document_key.is_not(None))) or 0)
        first = session.scalar(select(LabelRow.return_id).where(LabelRow.document_key.is_not(None)).limit(1))
    found: dict[str, object] = {"dir": str(root), "labels": labelled}
    if first is None:
        return found
    with runtime.ctx.uow() as uow:
        ret = uow.returns.get(first)
        label = uow.labels.get(first)
    if ret is None or label is None or label.document_key is None:
        return found
    documents.packing_slip(runtime.ctx, ret, label)  # drawn and kept, as the API does when first asked
    found["example_label"] = str(root / label.document_key)
    found["example_packing_slip"] = str(root / slip_key(first))
    return found


def _count_final(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return finished_returns(session)


def _summarise(sessions: sessionmaker[Session], total: int, wall: float) -> Summary:
    with sessions() as session:
        by_status = {
            status: int(count)
            for status, count in session.execute(select(ReturnRow.status, func.count()).group_by(ReturnRow.status))
        }
        refunds_by_currency = {
            currency: RefundFigures(amount_minor=int(amount), refunds=int(count))
            for currency, amount, count in session.execute(
                select(RefundRow.currency, func.sum(RefundRow.amount), func.count())
                .where(RefundRow.status == RefundStatus.SUCCEEDED.value)
                .group_by(RefundRow.currency)
            )
        }
        rows = session.execute(
            select(TimelineRow.return_id, TimelineRow.from_status, TimelineRow.at)
            .where(TimelineRow.line_id.is_(None))
            .order_by(TimelineRow.return_id, TimelineRow.seq)
        ).all()
    durations: dict[str, list[float]] = {}
    previous: tuple[object, datetime] | None = None
    for return_id, from_status, at in rows:
        if previous is not None and previous[0] == return_id and from_status is not None:
            hours = (at - previous[1]) / timedelta(hours=1)
            durations.setdefault(from_status, []).append(hours)
        previous = (return_id, at)
    stage_hours = {
        status: {"p50": round(_percentile(values, 50), 2), "p95": round(_percentile(values, 95), 2), "n": len(values)}
        for status, values in sorted(durations.items())
    }
    final = sum(count for status, count in by_status.items() if Status(status) in FINAL)
    return Summary(
        total=total,
        by_status=dict(sorted(by_status.items())),
        non_terminal=total - final,
        refunds_by_currency=refunds_by_currency,
        wall_seconds=wall,
        returns_per_second=total / wall if wall else 0.0,
        stage_hours=stage_hours,
    )
