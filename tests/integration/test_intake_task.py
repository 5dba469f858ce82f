"""The intake task (`rma.intake.submit`) refuses for good what the HTTP door refuses: each such message is
dead-lettered with its cause (never its content), on SQLite and on the real PostgreSQL, and nothing is stored."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import structlog
from sqlalchemy import func, select, text
from sqlalchemy.exc import DataError
from tests.app.api_support import body
from tests.conftest import POSTGRES_URL
from tests.integration.conftest import postgres_url_with_schema

from rma.adapters.db import create_db_engine
from rma.adapters.db.tables import DeadLetterRow, ReturnRow
from rma.bootstrap import prepare_database
from rma.config import Settings
from rma.logging import configure_logging
from rma.services import flow
from rma.worker.base import describe

MARKER = "ZZMARKERZZ"


@pytest.fixture(params=["sqlite", "postgresql"])
def worker_app(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """The worker's Celery app, tasks run in the worker's code path with `apply`."""
    from rma.worker.app import TASK_MODULES, create_app  # noqa: PLC0415
    from rma.worker.runtime import configure, runtime_for  # noqa: PLC0415

    schema = f"rma_task_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'intake.db'}"
    else:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = postgres_url_with_schema(schema)
    settings = Settings(database_url=url, broker_url="memory://localhost/")
    app = create_app(settings)
    configure(app, settings)
    for module in TASK_MODULES:
        __import__(module)
    runtime = runtime_for(app)
    prepare_database(settings, runtime.engine)
    try:
        yield app
    finally:
        runtime.close()
        if request.param == "postgresql":
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging("DEBUG", "json", force=True)
    yield capsys
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _submit(app: Any, data: dict[str, Any]) -> Any:
    result = app.tasks[flow.INTAKE].apply(kwargs={"request": data})
    assert result.successful()  # acknowledged either way: poison does not block the queue
    return result.result


def _letters(app: Any) -> list[tuple[str, dict[str, Any]]]:
    from rma.worker.runtime import runtime_for  # noqa: PLC0415

    with runtime_for(app).engine.connect() as conn:
        return [(cause, kwargs) for cause, kwargs in conn.execute(select(DeadLetterRow.cause, DeadLetterRow.kwargs))]


def _returns(app: Any) -> int:
    from rma.worker.runtime import runtime_for  # noqa: PLC0415

    with runtime_for(app).engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ReturnRow)) or 0)


def test_a_reused_key_with_a_different_request_is_dead_lettered_with_the_cause(
    worker_app: Any, json_logs: pytest.CaptureFixture[str]
) -> None:
    first = body()
    return_id = _submit(worker_app, first)
    assert uuid.UUID(return_id)
    assert _submit(worker_app, json.loads(json.dumps(first))) == return_id  # a repeat: the same return, no letter
    assert _letters(worker_app) == []

    changed = {**first, "contact": {**first["contact"], "name": MARKER}}
    assert _submit(worker_app, changed) is None

    ((cause, _),) = _letters(worker_app)
    assert cause.startswith("IdempotencyKeyReusedError: upstream_request_id")
    assert first["upstream_request_id"] in cause
    assert "differing in: contact" in cause
    assert MARKER not in cause
    assert _returns(worker_app) == 1
    assert MARKER not in json_logs.readouterr().err


def test_implausible_dates_are_dead_lettered_and_nothing_is_stored(worker_app: Any) -> None:
    assert _submit(worker_app, body(order_date="2926-10-02", delivery_date=None)) is None
    ((cause, _),) = _letters(worker_app)
    assert cause.startswith("InvalidRequestDatesError: order_date: 2926-10-02 is in the future")
    assert _returns(worker_app) == 0


def test_a_message_with_a_nul_is_dead_lettered_although_the_letter_holds_it(
    worker_app: Any, json_logs: pytest.CaptureFixture[str]
) -> None:
    data = body()
    data["contact"]["name"] = f"{MARKER}\x00"
    data["extra\x00key"] = f"\x00{MARKER}"

    assert _submit(worker_app, data) is None

    ((cause, kwargs),) = _letters(worker_app)  # stored, even on PostgreSQL
    assert cause.startswith("invalid message: ")
    assert "contact.name: must not contain U+0000" in cause
    assert "extra\\u0000key: Extra inputs are not permitted" in cause  # an unknown key as sent, made storable
    assert kwargs["request"]["contact"]["name"] == f"{MARKER}\\u0000"
    assert _returns(worker_app) == 0
    logged = json_logs.readouterr().err
    assert "task_dead_lettered" in logged
    assert MARKER not in logged


def test_a_database_error_is_described_without_its_parameters() -> None:
    error = DataError("INSERT INTO returns VALUES (%(name)s)", {"name": MARKER}, ValueError(f"bad value {MARKER}"))
    assert MARKER in str(error)  # what the cause used to quote
    assert describe(error) == "DataError (builtins.ValueError)"


def test_a_task_id_too_long_for_its_column_still_gets_its_letter(worker_app: Any) -> None:
    result = worker_app.tasks[flow.INTAKE].apply(kwargs={"request": {"bad": 1}}, task_id="t" * 100)
    assert result.successful()
    ((cause, _),) = _letters(worker_app)
    assert cause.startswith("invalid message: ")


class _Poison:
    """A kombu message as a careless publisher sends it: headers with a NUL, too long for their columns."""

    headers: ClassVar[dict[str, str]] = {"task": f"rma.\x00{'x' * 200}", "id": "i" * 100}
    delivery_info: ClassVar[dict[str, str]] = {"routing_key": "rma.intake"}
    content_type = "application/x-\x00" + "y" * 100
    body = b"\x00not json"

    def __init__(self) -> None:
        self.rejected: list[bool] = []

    def reject(self, *, requeue: bool) -> None:
        self.rejected.append(requeue)


def test_a_message_with_unstorable_headers_is_dead_lettered_not_requeued_for_ever(worker_app: Any) -> None:
    from rma.worker.consumer import DeadLetteringConsumer  # noqa: PLC0415

    message = _Poison()
    consumer = SimpleNamespace(app=worker_app)
    assert DeadLetteringConsumer._dead_letter(consumer, message, "undecodable message: \x00")  # type: ignore[arg-type]
    assert message.rejected == []
    ((cause, _),) = _letters(worker_app)
    assert cause == "undecodable message: \\u0000"


def test_the_log_line_withholds_what_the_letter_keeps(
    worker_app: Any, json_logs: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error's text may quote the request: the letter keeps it for an operator, the log line does not."""

    def fail(*_args: object, **_kwargs: object) -> None:
        raise KeyError(MARKER)

    monkeypatch.setattr("rma.worker.tasks.intake.submit_return", fail)
    assert _submit(worker_app, body()) is None

    ((cause, _),) = _letters(worker_app)
    assert cause == f"KeyError: '{MARKER}'"
    logged = [json.loads(line) for line in json_logs.readouterr().err.splitlines() if line.startswith("{")]
    (event,) = [e for e in logged if e["event"] == "task_dead_lettered"]
    assert event["cause"] == "KeyError (message withheld: it may quote request data)"
    assert MARKER not in json.dumps(logged)
