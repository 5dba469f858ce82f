"""The composition root: the one place that turns settings into engines, providers, a publisher and a stage context.

The API, the CLI, the workers, beat, the relay and the embedded demo all get their runtime here, and only here are
real or sandbox providers chosen (from `Settings.carrier`, `.gateway`, `.notifier`, `.auto_inspect`, `.auto_review`).
Nothing runs at import time; worker processes build theirs after the fork (see `rma.worker.runtime`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.broker import CeleryPublisher
from rma.adapters.clock import AcceleratedClock, SystemClock
from rma.adapters.db import SqlAlchemyUnitOfWork, create_db_engine, make_session_factory, migrate
from rma.adapters.db.audit import AuditReport, run_audit
from rma.adapters.db.published import PublishAfterCommit
from rma.adapters.db.queries import SqlReturnQueries
from rma.adapters.db.server import configuration_warnings, server_settings
from rma.adapters.db.unit_of_work import AfterCommit
from rma.adapters.sandbox.carrier import JourneyMix, SandboxCarrier
from rma.adapters.sandbox.gateway import SandboxGateway
from rma.adapters.sandbox.inspector import SandboxInspector
from rma.adapters.sandbox.notifier import SandboxNotifier
from rma.adapters.sandbox.reviewer import SandboxReviewer
from rma.adapters.sandbox.tables import create_sandbox_tables
from rma.config import Settings
from rma.policies.loader import load_policy_book
from rma.ports.clock import Clock
from rma.ports.messaging import Publisher
from rma.ports.queries import ReturnQueries
from rma.ports.unit_of_work import UnitOfWork
from rma.services.context import StageContext
from rma.services.flow import ANNOUNCED, ReturnFlow, Timing

if TYPE_CHECKING:
    from celery import Celery


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


def uses_sandbox(settings: Settings) -> bool:
    return "sandbox" in {settings.carrier, settings.gateway, settings.notifier}


def prepare_database(settings: Settings, engine: Engine, revision: str = "head") -> None:
    """Migrate the production schema; where a sandbox provider runs, create its own tables beside it."""
    migrate.upgrade(engine, revision)
    if uses_sandbox(settings):
        create_sandbox_tables(engine)


def unit_of_work_factory(
    sessions: sessionmaker[Session], *, after_commit: AfterCommit | None = None
) -> Callable[[], UnitOfWork]:
    flow = ReturnFlow()
    return lambda: SqlAlchemyUnitOfWork(sessions, flow=flow, after_commit=after_commit)


def make_context(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    clock: Clock,
    uow: Callable[[], UnitOfWork],
    backlog: Callable[[str], int] | None = None,
) -> StageContext:
    """The providers by settings. Only sandbox ones exist so far (config refuses any other name)."""
    mix = JourneyMix(
        never_shipped=settings.sandbox_never_shipped,
        lost=settings.sandbox_lost,
        returned_to_sender=settings.sandbox_returned_to_sender,
        damaged=settings.sandbox_damaged,
    )
    return StageContext(
        uow=uow,
        clock=clock,
        book=load_policy_book(settings.policy_file),
        rma_prefix=settings.rma_prefix,
        carrier=SandboxCarrier(sessions, clock, mix),
        gateway=SandboxGateway(sessions, clock),
        notifier=SandboxNotifier(sessions, clock),
        timing=make_timing(settings),
        auto_inspector=SandboxInspector() if settings.auto_inspect else None,
        auto_reviewer=SandboxReviewer() if settings.auto_review else None,
        backlog=backlog or (lambda _task: 0),
    )


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    ctx: StageContext
    publisher: Publisher
    queries: ReturnQueries

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(
    settings: Settings,
    *,
    celery_app: Celery,
    backlog: Callable[[str], int] | None = None,
) -> Runtime:
    """Everything a process needs. Messages are published through `celery_app` (`rma.worker.create_app`, made by the
    caller: the entry points stand above the root): right after each commit, and by the relay's sweep for whatever
    that missed."""
    engine = create_db_engine(
        settings.database_url, pool_size=settings.db_pool_size, application_name=settings.process_name
    )
    sessions = make_session_factory(engine)
    publisher = CeleryPublisher(celery_app)
    uow = unit_of_work_factory(sessions, after_commit=PublishAfterCommit(publisher, sessions))
    ctx = make_context(settings, sessions, clock=make_clock(settings), uow=uow, backlog=backlog)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        ctx=ctx,
        publisher=publisher,
        queries=SqlReturnQueries(sessions),
    )


# --- the database, for the commands that manage it -----------------------------------------------------------------


def open_engine(settings: Settings) -> Engine:
    return create_db_engine(settings.database_url, application_name=settings.process_name)


def database_warnings(engine: Engine) -> list[str]:
    """What in the PostgreSQL server's configuration a production deployment must not run with."""
    return server_warnings(server_settings(engine))


def server_warnings(described: dict[str, str]) -> list[str]:
    """The same, from settings read before (a benchmark's report)."""
    return configuration_warnings(described)


def downgrade_database(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)


def database_revision(engine: Engine) -> str | None:
    return migrate.current_revision(engine)


def audit(runtime: Runtime) -> AuditReport:
    """`rma audit` over the runtime's database and the sandbox providers' records."""
    with runtime.sessions() as session:
        return run_audit(session, now=runtime.ctx.clock.now(), real_now=datetime.now(UTC), announced=ANNOUNCED)
