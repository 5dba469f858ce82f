"""No-op tasks, one per stage queue, for measuring Celery's own ceiling on the same worker layout (`rma bench`)."""

from __future__ import annotations

from typing import Any

import redis
from celery import shared_task

from rma.worker.queues import Queue
from rma.worker.runtime import settings_for

BENCH_COUNTER = "rma:bench:chains_done"
_clients: dict[str, redis.Redis] = {}


def _noop(self: Any, last: bool = False) -> None:  # noqa: ANN401 - a bound Celery task
    """Does nothing; the last hop of a chain counts the chain as done."""
    if last:
        url = settings_for(self.app).broker_url
        client = _clients.get(url) or _clients.setdefault(url, redis.Redis.from_url(url))
        client.incr(BENCH_COUNTER)


for _queue in Queue:
    shared_task(name=f"{_queue.value}.noop", bind=True, acks_late=True, ignore_result=True)(_noop)
