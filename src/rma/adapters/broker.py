"""The publisher on Celery: follow-up chains as Celery canvases, replays by task name or as the raw body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Celery, chain
from celery.canvas import Signature

from rma.ports.messaging import OutboxMessage


def build_signature(app: Celery, message: OutboxMessage) -> Signature:
    """{"chain": [{"task", "kwargs"}, ...]} -> an immutable Celery chain (each step ignores the previous result)."""
    steps = [app.signature(step["task"], kwargs=step["kwargs"], immutable=True) for step in message["chain"]]
    return steps[0] if len(steps) == 1 else chain(*steps)


class CeleryPublisher:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        if not messages:
            return
        with self.app.producer_or_acquire() as producer:
            for message in messages:
                build_signature(self.app, message).apply_async(producer=producer)

    def send_task(self, task: str, kwargs: dict[str, Any]) -> None:
        self.app.send_task(task, kwargs=kwargs)

    def send_raw(self, body: bytes, *, queue: str, content_type: str) -> None:
        with self.app.producer_or_acquire() as producer:
            producer.publish(body, routing_key=queue, exchange="", content_type=content_type, content_encoding="utf-8")
