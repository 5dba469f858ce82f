"""Celery only: the app factory, queues, the base task, one thin tasks module per stage, the outbox relay.

The public face is small: `create_app` and `Queue`. Workers are started from `workers/` (one per stage)."""

from rma.worker.app import create_app
from rma.worker.queues import Queue

__all__ = ["Queue", "create_app"]
