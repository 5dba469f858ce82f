"""Queue names, one per stage, and the routing of task names (by namespace) to them."""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    INTAKE = "rma.intake"
    ISSUANCE = "rma.issuance"
    LABELS = "rma.labels"
    TRACKING = "rma.tracking"
    INSPECTION = "rma.inspection"
    REFUNDS = "rma.refunds"
    NOTIFY = "rma.notify"
    MAINTENANCE = "rma.maintenance"


# Task names are "rma.<stage>.<name>": the stage part picks the queue.
TASK_ROUTES = {f"{queue.value}.*": {"queue": queue.value} for queue in Queue}
