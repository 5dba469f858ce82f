"""The app instance the `celery` command and the workers load: `celery -A rma.worker.celery_app ...`.

Building it reads settings (RMA_* variables) and connects to nothing."""

from __future__ import annotations

from typing import Any

from celery.signals import setup_logging

from rma.config import get_settings
from rma.logging import configure_logging
from rma.worker.app import create_app


@setup_logging.connect
def _structlog_for_celery(**_: Any) -> None:  # noqa: ANN401
    # Connecting this signal stops Celery from configuring logging itself: its loggers go through structlog.
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


app = create_app()
