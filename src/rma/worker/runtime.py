"""One runtime (engine, providers, stage context) per Celery app per process, made lazily after any fork by the
composition root (`rma.bootstrap`)."""

from __future__ import annotations

import weakref
from typing import Any

from celery import Celery
from celery.signals import worker_process_init
from kombu import Queue as KombuQueue

from rma.bootstrap import Runtime, build_runtime
from rma.config import Settings, get_settings

_settings: weakref.WeakKeyDictionary[Celery, Settings] = weakref.WeakKeyDictionary()
_runtimes: weakref.WeakKeyDictionary[Celery, Runtime] = weakref.WeakKeyDictionary()


def configure(app: Celery, settings: Settings) -> None:
    _settings[app] = settings


def settings_for(app: Celery) -> Settings:
    return _settings.get(app) or get_settings()


def runtime_for(app: Celery) -> Runtime:
    runtime = _runtimes.get(app)
    if runtime is None:
        runtime = build_runtime(settings_for(app), celery_app=app, backlog=lambda task: queue_backlog(app, task))
        _runtimes[app] = runtime
    return runtime


def queue_backlog(app: Celery, task_name: str) -> int:
    """Messages waiting in the queue a task name routes to (0 if the broker cannot say: then re-drive)."""
    queue = task_name.rsplit(".", 1)[0]
    try:
        with app.connection_for_read() as connection:
            declared: Any = KombuQueue(queue).bind(connection.default_channel).queue_declare(passive=True)
            # (name, message_count, consumer_count); the stubs say str
            return int(declared.message_count) if declared is not None else 0
    except Exception:  # noqa: BLE001 - an unanswerable broker must not stop the reconciler
        return 0


@worker_process_init.connect
def _forget_parent_runtime(**_: object) -> None:
    # A forked pool process must not share the parent's database connections.
    for runtime in list(_runtimes.values()):
        runtime.engine.dispose(close=False)
    _runtimes.clear()
