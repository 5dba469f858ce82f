"""Integration fixtures: the same tests run on a SQLite file and on the real PostgreSQL.

Each test session works in its own PostgreSQL schema (dropped at the end) so that runs on the same server never see
each other's rows. An unreachable PostgreSQL is an error, never a skip.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import POSTGRES_URL, ManualClock

from rma.adapters.db import SqlAlchemyUnitOfWork, create_db_engine, make_session_factory, migrate
from rma.adapters.db.tables import Base
from rma.adapters.documents.renderer import ReportlabRenderer
from rma.adapters.documents.store import FileDocumentStore
from rma.adapters.sandbox.carrier import JourneyMix, SandboxCarrier
from rma.adapters.sandbox.gateway import SandboxGateway
from rma.adapters.sandbox.inspector import SandboxInspector
from rma.adapters.sandbox.notifier import SandboxNotifier
from rma.adapters.sandbox.reviewer import SandboxReviewer
from rma.adapters.sandbox.tables import SandboxBase, create_sandbox_tables
from rma.config import Settings
from rma.domain.policy import PolicyBook
from rma.domain.requests import ReturnRequest
from rma.policies.loader import load_policy_book
from rma.services.context import StageContext
from rma.services.flow import ReturnFlow

NOW = datetime(2026, 10, 20, 15, 30, tzinfo=UTC)
EXAMPLE = Path(__file__).parents[2] / "examples" / "return_request.json"
RENDERER = ReportlabRenderer()
WAREHOUSE = Settings().warehouse_address


def postgres_url_with_schema(schema: str) -> str:
    url = make_url(POSTGRES_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    schema = f"rma_test_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield schema
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_schema: str) -> Iterator[Engine]:
    engine = create_db_engine(postgres_url_with_schema(pg_schema), pool_size=10)
    migrate.upgrade(engine)
    create_sandbox_tables(engine)
    yield engine
    engine.dispose()


def _clean(engine: Engine) -> None:
    tables = ", ".join(table.name for meta in (Base.metadata, SandboxBase.metadata) for table in meta.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Each test using this runs twice: on a fresh SQLite file and on the session's PostgreSQL schema."""
    if request.param == "sqlite":
        eng = create_db_engine(f"sqlite:///{tmp_path / 'rma.db'}")
        migrate.upgrade(eng)
        create_sandbox_tables(eng)
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")
    yield eng
    _clean(eng)


@pytest.fixture
def postgres(pg_engine: Engine) -> Iterator[Engine]:
    """PostgreSQL only, for behaviour SQLite does not have (row-level concurrency, triggers)."""
    yield pg_engine
    _clean(pg_engine)


@pytest.fixture
def pg_uow_factory(postgres: Engine) -> Any:
    factory = make_session_factory(postgres)
    return lambda: SqlAlchemyUnitOfWork(factory, flow=ReturnFlow())


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def uow_factory(session_factory: sessionmaker[Session]) -> Any:
    return lambda: SqlAlchemyUnitOfWork(session_factory, flow=ReturnFlow())


@pytest.fixture(scope="session")
def book() -> PolicyBook:
    return load_policy_book()


@pytest.fixture
def make_request() -> Any:
    base = json.loads(EXAMPLE.read_text())

    def build(**overrides: Any) -> ReturnRequest:
        data = {**base, "upstream_request_id": f"req-{uuid.uuid4().hex[:10]}", **overrides}
        return ReturnRequest.model_validate(data)

    return build


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def make_ctx(session_factory: sessionmaker[Session], book: PolicyBook, clock: ManualClock, tmp_path: Path) -> Any:
    documents_dir = tmp_path / "documents"

    def build(prefix: str = "RMA", **options: Any) -> StageContext:
        # The sandbox stand-ins for the warehouse and the review team, as the composition root wires them.
        if options.pop("auto_inspect", False):
            options["auto_inspector"] = SandboxInspector()
        if options.pop("auto_review", False):
            options["auto_reviewer"] = SandboxReviewer()
        return StageContext(
            uow=lambda: SqlAlchemyUnitOfWork(session_factory, flow=ReturnFlow()),
            clock=clock,
            book=book,
            rma_prefix=prefix,
            carrier=SandboxCarrier(
                session_factory,
                clock,
                options.pop("mix", JourneyMix(0, 0, 0, 0)),
                renderer=RENDERER,
                warehouse=WAREHOUSE,
                label_format=options.pop("label_format", "ZPL"),  # quick to draw; the PDF is tested on its own
            ),
            gateway=SandboxGateway(session_factory, clock),
            notifier=SandboxNotifier(session_factory, clock),
            documents=FileDocumentStore(documents_dir),
            renderer=RENDERER,
            warehouse=WAREHOUSE,
            **options,
        )

    return build


@pytest.fixture
def ctx(make_ctx: Any) -> StageContext:
    return make_ctx()
