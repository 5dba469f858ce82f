"""Shared helpers of the API and client tests: a real runtime on a migrated database, request bodies, row counts."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import POSTGRES_URL
from tests.integration.conftest import postgres_url_with_schema

from rma.adapters.db import SqlAlchemyUnitOfWork, create_db_engine
from rma.bench.harness import free_port
from rma.bootstrap import Runtime, build_runtime, prepare_database, unit_of_work_factory
from rma.config import Settings
from rma.services.flow import ReturnFlow
from rma.worker.app import create_app

with warnings.catch_warnings():
    # Starlette asks for the `httpx2` package and warns when it falls back to `httpx`, which works the same here.
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API_KEY = "test-key-1"
HEADERS = {"X-API-Key": API_KEY}
EXAMPLE = Path(__file__).parents[2] / "examples" / "return_request.json"

__all__ = ["API_KEY", "HEADERS", "TestClient"]


def body(**overrides: Any) -> dict[str, Any]:
    """The example request with a fresh upstream id and dates inside the return window as of today.

    The runtime runs on the real clock, so the dates move with it."""
    today = datetime.now(UTC).date()
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    data["upstream_request_id"] = f"req-{uuid.uuid4().hex[:12]}"
    data["order_date"] = (today - timedelta(days=10)).isoformat()
    data["delivery_date"] = (today - timedelta(days=7)).isoformat()
    data.update(overrides)
    return data


def expensive_body() -> dict[str, Any]:
    """One line worth more than the USD review threshold: the policy sends it to a person."""
    data = body()
    line = {**data["lines"][0], "unit_price": 90_000, "tax": 0, "quantity_to_return": 1}
    data.update(lines=[line], amount_captured=200_000)
    return data


def make_runtime(database_url: str) -> Runtime:
    """A runtime whose units of work leave their messages in the outbox (nothing publishes them after commit, no
    worker runs here): the tests read what each request queued."""
    settings = Settings(
        database_url=database_url, broker_url="memory://", documents_dir=Path(tempfile.mkdtemp(prefix="rma-docs-"))
    )
    runtime = build_runtime(settings, celery_app=create_app(settings))
    runtime.ctx = dataclasses.replace(runtime.ctx, uow=unit_of_work_factory(runtime.sessions))
    prepare_database(runtime.settings, runtime.engine)
    return runtime


def count(runtime: Runtime, table: Any) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def closed_port() -> int:
    """A localhost port nothing listens on (a free port: bound, then released)."""
    return free_port()


def connection_lost() -> OperationalError:
    return OperationalError("COMMIT", None, ConnectionResetError("server closed the connection unexpectedly"))


class CommitFails(SqlAlchemyUnitOfWork):
    """Writes everything (flush) and then loses the connection at COMMIT: the worst moment for a half-stored request."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(sessions, flow=ReturnFlow())

    def commit(self) -> None:
        self.session.flush()
        raise connection_lost()


@contextmanager
def postgres_runtime(prefix: str) -> Iterator[Runtime]:
    """A runtime on a fresh PostgreSQL schema of its own, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        runtime = make_runtime(postgres_url_with_schema(schema))
        try:
            yield runtime
        finally:
            runtime.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
