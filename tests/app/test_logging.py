"""Logs are JSON lines with ids bound, and never carry customer contact or address data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import structlog

from rma.domain.requests import ReturnRequest
from rma.logging import REDACTED, configure_logging, get_logger

EXAMPLE = Path(__file__).parents[2] / "examples" / "return_request.json"


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    configure_logging("DEBUG", "json", force=True)
    yield capsys
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_events_are_json_with_bound_context(json_logs: pytest.CaptureFixture[str]) -> None:
    structlog.contextvars.bind_contextvars(rma_number="RMA-K5183BB0A", task_id="t-1", stage="issuance")
    get_logger("rma.test").info("decided", decision="authorize")
    (line,) = _lines(json_logs)
    assert line["event"] == "decided"
    assert line["rma_number"] == "RMA-K5183BB0A"
    assert line["task_id"] == "t-1"
    assert line["stage"] == "issuance"
    assert line["level"] == "info"
    assert "timestamp" in line


def test_personal_data_is_redacted_even_when_logged_by_mistake(json_logs: pytest.CaptureFixture[str]) -> None:
    request = ReturnRequest.model_validate_json(EXAMPLE.read_text())
    get_logger("rma.test").warning(
        "oops", email=request.contact.email, contact=request.contact.model_dump(), payload=request.model_dump()
    )
    raw = json_logs.readouterr().err
    assert request.contact.email not in raw
    assert request.return_from.line1 not in raw
    line = json.loads(raw)
    assert line["email"] == REDACTED
    assert line["contact"] == REDACTED


def test_nested_personal_keys_are_redacted(json_logs: pytest.CaptureFixture[str]) -> None:
    get_logger("rma.test").info("nested", detail={"order_id": "o-1", "address": {"line1": "500 Market Street"}})
    (line,) = _lines(json_logs)
    assert line["detail"] == {"order_id": "o-1", "address": REDACTED}


def test_stdlib_loggers_go_through_the_same_pipeline(json_logs: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("celery.worker").info("worker ready")
    (line,) = _lines(json_logs)
    assert line["event"] == "worker ready"
    assert line["logger"] == "celery.worker"
