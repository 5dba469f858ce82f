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
from rma.adapters.db.audit import AuditReport, CarrierRecords, run_audit
from rma.adapters.db.published import PublishAfterCommit
from rma.adapters.db.queries import SqlReturnQueries
from rma.adapters.db.server import configuration_warnings, server_settings
from rma.adapters.db.unit_of_work import AfterCommit
from rma.adapters.documents.renderer import ReportlabRenderer
from rma.adapters.documents.store import FileDocumentStore
from rma.adapters.ratelimit import SharedRateLimit, storage_url
from rma.adapters.sandbox.carrier import JourneyMix, SandboxCarrier
from rma.adapters.sandbox.gateway import SandboxGateway
from rma.adapters.sandbox.inspector import SandboxInspector
from rma.adapters.sandbox.notifier import SandboxNotifier
from rma.adapters.sandbox.reviewer import SandboxReviewer
from rma.adapters.sandbox.tables import create_sandbox_tables
from rma.config import Settings
from rma.policies.loader import load_policy_book
from rma.ports.clock import Clock
from rma.ports.documents import DocumentRenderer
from rma.ports.messaging import Publisher
from rma.ports.providers import Carrier, CarrierWebhook
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
        poll_after_webhook=timedelta(hours=settings.webhook_poll_every_hours),
        lost_after=timedelta(days=settings.lost_after_days),
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


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def make_carrier(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock, renderer: DocumentRenderer
) -> Carrier:
    if settings.carrier == "sandbox":
        mix = JourneyMix(
            never_shipped=settings.sandbox_never_shipped,
            lost=settings.sandbox_lost,
            returned_to_sender=settings.sandbox_returned_to_sender,
            damaged=settings.sandbox_damaged,
        )
        return SandboxCarrier(
            sessions,
            clock,
            mix,
            renderer=renderer,
            warehouse=settings.warehouse_address,
            label_format=settings.label_format,
            weight_oz=settings.parcel_weight_oz,
        )
    from rma.adapters.easypost import EasyPostCarrier, EasyPostConfig, RateRule  # noqa: PLC0415 - only where it runs

    throttle = None
    if settings.carrier_rate_limit > 0:
        limit = SharedRateLimit(
            storage_url(settings.carrier_rate_limit_url, settings.broker_url),
            per_second=settings.carrier_rate_limit,
            account=f"easypost:{settings.easypost_api_base}",
        )
        throttle = limit.acquire
    fixed = settings.label_fixed_service.split(":", 1) if settings.label_fixed_service else None
    key = settings.easypost_api_key
    return EasyPostCarrier(
        EasyPostConfig(
            api_key=key.get_secret_value() if key is not None else "",
            api_base=settings.easypost_api_base,
            timeout_seconds=settings.easypost_timeout_seconds,
            warehouse=settings.warehouse_address,
            warehouse_phone=settings.warehouse_phone or None,
            label_format=settings.label_format,
            rule=RateRule(
                carriers=_split(settings.label_carriers),
                services=_split(settings.label_services),
                fixed_service=(fixed[0], fixed[1]) if fixed else None,
            ),
            concurrency=settings.easypost_concurrency,
            throttle=throttle,
        )
    )


def make_webhooks(settings: Settings) -> dict[str, CarrierWebhook]:
    """The carriers whose webhooks the API takes: those with a webhook secret configured."""
    secret = settings.easypost_webhook_secret
    if settings.carrier != "easypost" or secret is None or not secret.get_secret_value():
        return {}
    from rma.adapters.easypost.webhook import EasyPostWebhook  # noqa: PLC0415 - only where it runs

    return {"easypost": EasyPostWebhook(secret.get_secret_value())}


def make_context(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    clock: Clock,
    uow: Callable[[], UnitOfWork],
    backlog: Callable[[str], int] | None = None,
) -> StageContext:
    """The providers by settings: the sandboxes, or real ones (`RMA_CARRIER=easypost`)."""
    renderer = ReportlabRenderer(paper=settings.packing_slip_paper)
    return StageContext(
        uow=uow,
        clock=clock,
        book=load_policy_book(settings.policy_file),
        rma_prefix=settings.rma_prefix,
        carrier=make_carrier(settings, sessions, clock, renderer),
        gateway=SandboxGateway(sessions, clock),
        notifier=SandboxNotifier(sessions, clock),
        documents=FileDocumentStore(settings.documents_root()),
        renderer=renderer,
        warehouse=settings.warehouse_address,
        parcel_weight_oz=settings.parcel_weight_oz,
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
    webhooks: dict[str, CarrierWebhook]

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
        webhooks=make_webhooks(settings),
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
    # The sandbox's records are tables beside ours; a real carrier account's cannot be listed from here.
    carrier = None if runtime.settings.carrier == "sandbox" else CarrierRecords(labels=(), readable=False)
    with runtime.sessions() as session:
        return run_audit(
            session,
            now=runtime.ctx.clock.now(),
            real_now=datetime.now(UTC),
            announced=ANNOUNCED,
            carrier=carrier,
        )
