"""The composition root: the one place that turns settings into engines, providers and a stage context.

Nothing here runs at import time. Worker processes call `build_runtime` after the fork (see `rma.worker`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.clock import AcceleratedClock, SystemClock
from rma.adapters.db import SqlAlchemyUnitOfWork, create_db_engine, make_session_factory
from rma.adapters.db.unit_of_work import AfterCommit
from rma.adapters.policy_file import load_policy_book
from rma.adapters.sandbox.carrier import JourneyMix, SandboxCarrier
from rma.adapters.sandbox.gateway import SandboxGateway
from rma.adapters.sandbox.notifier import SandboxNotifier
from rma.config import Settings
from rma.services.context import StageContext, Timing
from rma.services.ports import Clock


def make_clock(settings: Settings) -> Clock:
    if settings.clock_epoch is None and settings.clock_speed == 1.0:
        return SystemClock()
    if settings.clock_epoch is None:
        raise ValueError("RMA_CLOCK_SPEED needs RMA_CLOCK_EPOCH so that every process agrees on the time")
    return AcceleratedClock(epoch=settings.clock_epoch, speed=settings.clock_speed)


def make_timing(settings: Settings) -> Timing:
    return Timing(
        redrive_after_seconds=settings.redrive_after_seconds,
        max_redrives=settings.max_redrives,
        review_sla=timedelta(hours=settings.review_sla_hours),
        label_valid=timedelta(days=settings.label_valid_days),
        poll_every=timedelta(hours=settings.poll_every_hours),
        poll_max_gap=timedelta(hours=settings.poll_max_gap_hours),
    )


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    ctx: StageContext

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(
    settings: Settings,
    *,
    after_commit: AfterCommit | None = None,
    backlog: Callable[[str], int] | None = None,
) -> Runtime:
    engine = create_db_engine(
        settings.database_url, pool_size=settings.db_pool_size, application_name=settings.process_name
    )
    sessions = make_session_factory(engine)
    clock = make_clock(settings)
    mix = JourneyMix(
        never_shipped=settings.sandbox_never_shipped,
        lost=settings.sandbox_lost,
        returned_to_sender=settings.sandbox_returned_to_sender,
        damaged=settings.sandbox_damaged,
    )
    ctx = StageContext(
        uow=lambda: SqlAlchemyUnitOfWork(sessions, after_commit=after_commit),
        clock=clock,
        book=load_policy_book(settings.policy_file),
        rma_prefix=settings.rma_prefix,
        carrier=SandboxCarrier(sessions, clock, mix),
        gateway=SandboxGateway(sessions, clock),
        notifier=SandboxNotifier(sessions, clock),
        timing=make_timing(settings),
        auto_inspect=settings.auto_inspect,
        auto_review=settings.auto_review,
        backlog=backlog or (lambda _task: 0),
    )
    return Runtime(settings=settings, engine=engine, sessions=sessions, ctx=ctx)
