"""The Celery application factory. Creating the app connects to nothing; engines are made after the fork."""

from __future__ import annotations

from celery import Celery
from kombu import Queue as KombuQueue

from rma.config import Settings, get_settings
from rma.worker.queues import TASK_ROUTES, Queue

# The longest hard time limit of any task; the broker's visibility timeout must exceed it, or Redis would hand a
# still-running task to a second worker.
LONGEST_TASK_SECONDS = 120
VISIBILITY_TIMEOUT_SECONDS = 10 * LONGEST_TASK_SECONDS

TASK_MODULES = [
    "rma.worker.tasks.intake",
    "rma.worker.tasks.issuance",
    "rma.worker.tasks.labels",
    "rma.worker.tasks.tracking",
    "rma.worker.tasks.inspection",
    "rma.worker.tasks.refunds",
    "rma.worker.tasks.notify",
    "rma.worker.tasks.maintenance",
    "rma.worker.tasks.bench",
]


def celery_config(settings: Settings) -> dict[str, object]:
    transport_options: dict[str, object] = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
    if settings.broker_url.startswith("memory://"):
        # kombu's in-process transport polls every second by default, which makes chains crawl.
        transport_options["polling_interval"] = 0.005
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options,
        "broker_pool_limit": 20,
        # Only JSON crosses the broker: a pickle message is refused (and dead-lettered by our consumer).
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "result_accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        # At-least-once with idempotent tasks.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_queues": [KombuQueue(queue.value, routing_key=queue.value) for queue in Queue],
        "task_routes": TASK_ROUTES,
        "task_default_queue": Queue.MAINTENANCE.value,
        "task_create_missing_queues": False,
        "task_soft_time_limit": 30,
        "task_time_limit": 60,
        "worker_hijack_root_logger": False,
        "worker_consumer": "rma.worker.consumer:DeadLetteringConsumer",
        "worker_send_task_events": True,
        # Flower sees tasks from the workers' events; a "sent" event per publish would double every publish's cost.
        "task_send_sent_event": False,
        "worker_max_tasks_per_child": 10_000,
        "beat_schedule": beat_schedule(settings),
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, object]]:
    """Idempotent "find what is due and enqueue it" jobs; a missed or doubled tick is harmless, and a tick not
    picked up before the next one is due expires rather than piling up."""

    def every(seconds: float, task: str, **kwargs: object) -> dict[str, object]:
        return {"task": task, "schedule": seconds, "kwargs": kwargs, "options": {"expires": seconds}}

    schedule = {
        "tracking-tick": every(settings.tracking_tick_seconds, "rma.tracking.tick"),
        "inspection-escalate": every(settings.inspection_tick_seconds, "rma.inspection.escalate"),
        "reconcile": every(settings.reconcile_seconds, "rma.maintenance.reconcile"),
        "outbox-relay": every(settings.outbox_relay_seconds, "rma.maintenance.relay_outbox"),
        "notify-dispatch": every(settings.notify_tick_seconds, "rma.notify.dispatch"),
    }
    if settings.auto_inspect:
        schedule["inspection-auto"] = every(settings.inspection_tick_seconds, "rma.inspection.auto_tick")
    return schedule


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("rma", set_as_current=False)
    app.conf.update(celery_config(settings))
    app.conf.include = TASK_MODULES
    return app
