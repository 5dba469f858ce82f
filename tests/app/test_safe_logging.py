"""No log line carries request content through an exception: not a database error's message (which quotes the SQL
parameters and PostgreSQL's detail quotes the row), not another exception's text, not a frame's locals."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import psycopg
import pytest
import structlog
from sqlalchemy.exc import IntegrityError

from rma.domain.errors import ConcurrentUpdateError
from rma.logging import WITHHELD, configure_logging, error_summary, get_logger, safe_traceback

MARKER = "ZZMARKERZZ"


@pytest.fixture(params=["json", "console"])
def logs(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging("DEBUG", request.param, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # as `rma api` leaves them (log_config=None)
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    yield capsys
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _database_error() -> IntegrityError:
    orig = psycopg.errors.CheckViolation(f"new row violates check constraint DETAIL: Failing row contains ({MARKER})")
    return IntegrityError("INSERT INTO returns (name) VALUES (%(name)s)", {"name": MARKER}, orig)


def _raise_with_locals(customer_name: str) -> None:
    address = customer_name.upper()
    raise KeyError(address)


def test_the_hazard_is_real() -> None:
    assert MARKER in str(_database_error())


def test_an_exception_logged_with_its_traceback_keeps_the_frames_not_the_text(
    logs: pytest.CaptureFixture[str],
) -> None:
    log = get_logger("test")
    try:
        try:
            _raise_with_locals(MARKER.lower())
        except KeyError as exc:
            raise _database_error() from exc
    except IntegrityError:
        log.exception("unhandled_error")
    err = logs.readouterr().err
    assert "unhandled_error" in err
    assert MARKER not in err
    assert MARKER.lower() not in err
    assert "_raise_with_locals" in err  # the frames are there
    assert "IntegrityError (psycopg.errors.CheckViolation" in err
    assert f"KeyError ({WITHHELD})" in err


def test_a_stdlib_logger_logging_an_exception_goes_through_the_same_filter(logs: pytest.CaptureFixture[str]) -> None:
    try:
        raise _database_error()
    except IntegrityError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    err = logs.readouterr().err
    assert "Exception in ASGI application" in err
    assert "Traceback (most recent call last)" in err
    assert MARKER not in err


def test_celery_lines_that_quote_an_exception_have_it_withheld(logs: pytest.CaptureFixture[str]) -> None:
    trace = logging.getLogger("celery.app.trace")
    trace.info("Task %(name)s[%(id)s] retry: %(exc)s", {"name": "rma.intake.submit", "id": "t-1", "exc": MARKER})
    trace.info("Task %(name)s[%(id)s] succeeded", {"name": "rma.intake.submit", "id": "t-2"})
    err = logs.readouterr().err
    assert MARKER not in err
    assert f"Task rma.intake.submit[t-1] retry: [{WITHHELD}]" in err
    assert "Task rma.intake.submit[t-2] succeeded" in err
    assert "positional_args" not in err


def test_error_summary_tells_class_and_sqlstate_and_only_our_own_messages() -> None:
    assert error_summary(_database_error()) == "IntegrityError (psycopg.errors.CheckViolation, SQLSTATE 23514)"
    assert error_summary(ValueError(MARKER)) == f"ValueError ({WITHHELD})"
    assert error_summary(ConcurrentUpdateError("return r-1 changed")) == "ConcurrentUpdateError: return r-1 changed"
    group = ExceptionGroup("x", [ValueError(MARKER), ConcurrentUpdateError("r-2")])
    assert error_summary(group) == f"ExceptionGroup of [ValueError ({WITHHELD}), ConcurrentUpdateError: r-2]"


def test_safe_traceback_follows_causes_without_their_messages() -> None:
    try:
        try:
            _raise_with_locals(MARKER)
        except KeyError as exc:
            raise RuntimeError(MARKER) from exc
    except RuntimeError as exc:
        rendered = safe_traceback(exc)
    assert MARKER not in rendered
    assert rendered.count("Traceback (most recent call last)") == 2
    assert rendered.endswith(f"RuntimeError ({WITHHELD})")
