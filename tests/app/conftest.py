"""Runtimes for the API tests: on a SQLite file, on a fresh PostgreSQL schema of its own, or each in turn."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.app.api_support import make_runtime
from tests.conftest import POSTGRES_URL
from tests.integration.conftest import postgres_url_with_schema

from rma.adapters.db import create_db_engine
from rma.bootstrap import Runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(f"sqlite:///{tmp_path / 'api.db'}")
    yield rt
    rt.close()


@pytest.fixture
def pg_runtime() -> Iterator[Runtime]:
    """A fresh PostgreSQL schema for this test alone, dropped afterwards."""
    schema = f"rma_api_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        rt = make_runtime(postgres_url_with_schema(schema))
        yield rt
        rt.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_runtime(request: pytest.FixtureRequest) -> Runtime:
    runtime: Runtime = request.getfixturevalue("runtime" if request.param == "sqlite" else "pg_runtime")
    return runtime
