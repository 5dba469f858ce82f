"""One runtime (engine, providers, stage context) per Celery app per process, made lazily after any fork."""

from __future__ import annotations

import weakref

from celery import Celery
from celery.signals import worker_process_init

from rma.bootstrap import Runtime, build_runtime
from rma.config import Settings, get_settings
from rma.worker.relay import OutboxRelay

_settings: weakref.WeakKeyDictionary[Celery, Settings] = weakref.WeakKeyDictionary()
_runtimes: weakref.WeakKeyDictionary[Celery, Runtime] = weakref.WeakKeyDictionary()
_relays: weakref.WeakKeyDictionary[Celery, OutboxRelay] = weakref.WeakKeyDictionary()


def configure(app: Celery, settings: Settings) -> None:
    _settings[app] = settings


def settings_for(app: Celery) -> Settings:
    return _settings.get(app) or get_settings()


def relay_for(app: Celery) -> OutboxRelay:
    runtime_for(app)
    return _relays[app]


def runtime_for(app: Celery) -> Runtime:
    runtime = _runtimes.get(app)
    if runtime is None:
        relay = OutboxRelay(app)
        # Messages a unit of work queued are published as soon as it commits; the relay job catches the rest.
        runtime = build_runtime(settings_for(app), after_commit=relay.publish_committed)
        relay.bind(runtime.sessions)
        _runtimes[app] = runtime
        _relays[app] = relay
    return runtime


@worker_process_init.connect
def _forget_parent_runtime(**_: object) -> None:
    # A forked pool process must not share the parent's database connections.
    for runtime in list(_runtimes.values()):
        runtime.engine.dispose(close=False)
    _runtimes.clear()
    _relays.clear()
