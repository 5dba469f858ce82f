"""Start one stage worker or beat. `workers/*.py` and `rma stack` call these; `rma worker STAGE` too.

Pools fit the work: prefork for CPU-bound steps (policy evaluation, validation), threads for steps that mostly wait on
a provider (carrier, gateway, e-mail), where many concurrent calls cost little memory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from rma.worker.queues import Queue


@dataclass(frozen=True, slots=True)
class StageWorker:
    queue: Queue
    pool: str
    concurrency: int
    purpose: str


STAGES: Final[dict[str, StageWorker]] = {
    "intake": StageWorker(Queue.INTAKE, "prefork", 2, "validate and store requests published as messages"),
    "issuance": StageWorker(Queue.ISSUANCE, "prefork", 2, "policy decision and RMA number (CPU)"),
    "labels": StageWorker(Queue.LABELS, "threads", 16, "buy labels from the carrier (waits on the carrier)"),
    "tracking": StageWorker(Queue.TRACKING, "threads", 4, "batched carrier tracking polls"),
    "inspection": StageWorker(Queue.INSPECTION, "prefork", 1, "record grades, settle refunds, escalate late ones"),
    "refunds": StageWorker(Queue.REFUNDS, "threads", 4, "pay refunds through the gateway (waits on the gateway)"),
    "notify": StageWorker(Queue.NOTIFY, "threads", 8, "customer messages (waits on the e-mail service)"),
    # Two processes: a long reconciler run must not hold up the closes queued behind it.
    "maintenance": StageWorker(Queue.MAINTENANCE, "prefork", 2, "close, reconcile, outbox relay"),
}


def worker_argv(stage: str, *, loglevel: str = "INFO") -> list[str]:
    spec = STAGES[stage]
    return [
        "worker",
        "--queues",
        spec.queue.value,
        "--hostname",
        f"{stage}@%h",
        "--pool",
        spec.pool,
        "--concurrency",
        str(spec.concurrency),
        "--without-mingle",
        "--without-gossip",
        "--task-events",
        "--loglevel",
        loglevel,
    ]


def run_worker(stage: str) -> None:
    from rma.config import get_settings  # noqa: PLC0415
    from rma.worker.celery_app import app  # noqa: PLC0415 - the app reads settings; load it only to run

    # Stage work is throughput, absorbed by the queues; intake is a caller waiting. Where both share a host's cores,
    # the workers (and their pool processes, which inherit it) take a lower CPU priority than the intake API.
    os.nice(get_settings().worker_nice)
    app.worker_main(worker_argv(stage, loglevel=_loglevel()))


def run_beat(schedule_file: str = "celerybeat-schedule") -> None:
    from rma.worker.celery_app import app  # noqa: PLC0415

    app.start(["beat", "--schedule", schedule_file, "--loglevel", _loglevel()])


def _loglevel() -> str:
    from rma.config import get_settings  # noqa: PLC0415

    return get_settings().log_level
