"""Runtimes for the API tests: on a SQLite file, on a fresh PostgreSQL schema of its own, or each in turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.app.api_support import make_runtime, postgres_runtime

from rma.bootstrap import Runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(f"sqlite:///{tmp_path / 'api.db'}")
    yield rt
    rt.close()


@pytest.fixture
def pg_runtime() -> Iterator[Runtime]:
    """A fresh PostgreSQL schema for this test alone, dropped afterwards."""
    with postgres_runtime("rma_api") as rt:
        yield rt


@pytest.fixture(params=["sqlite", "postgresql"])
def any_runtime(request: pytest.FixtureRequest) -> Runtime:
    runtime: Runtime = request.getfixturevalue("runtime" if request.param == "sqlite" else "pg_runtime")
    return runtime
