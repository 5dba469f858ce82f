"""Alembic migrations: empty -> head matches the models exactly; head -> base leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from tests.conftest import POSTGRES_URL
from tests.integration.conftest import postgres_url_with_schema

from rma.adapters.db import create_db_engine, migrate
from rma.adapters.db.tables import Base

TABLES = {
    "returns",
    "return_lines",
    "return_timeline",
    "rma_counters",
    "outbox",
    "labels",
    "parcel_events",
    "carrier_events",
    "shipments",
    "inspections",
    "refunds",
    "notifications",
    "dead_letters",
}  # the sandbox providers' tables are not in the production schema (rma.adapters.sandbox.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"rma_mig_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(postgres_url_with_schema(schema))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _user_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_matches_models_and_downgrade_removes_everything(empty_engine: Engine) -> None:
    assert _user_tables(empty_engine) == set()
    assert migrate.current_revision(empty_engine) is None

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == "0005"
    assert _user_tables(empty_engine) == TABLES
    with empty_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []

    migrate.downgrade(empty_engine, "base")
    assert _user_tables(empty_engine) == set()
    assert migrate.current_revision(empty_engine) is None

    migrate.upgrade(empty_engine)  # and back up again: the downgrade left nothing that blocks a re-run
    assert _user_tables(empty_engine) == TABLES


def test_status_due_index_exists(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(empty_engine).get_indexes("returns")}
    assert indexes["ix_returns_status_due"] == ["status", "status_due_at"]
    assert indexes["uq_returns_channel_upstream"] == ["channel", "upstream_request_id"]
