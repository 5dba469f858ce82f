from __future__ import annotations

from celery import shared_task

from rma.services import flow, labels
from rma.worker.base import RmaTask, parse_return_id


class LabelTask(RmaTask):
    stage = "labels"


@shared_task(base=LabelTask, bind=True, name=flow.ISSUE_LABEL)
def issue_label(self: LabelTask, return_id: str) -> None:
    labels.issue_label(self.ctx, parse_return_id(return_id))


@shared_task(base=LabelTask, bind=True, name=flow.ISSUE_LABELS, time_limit=120, soft_time_limit=100)
def issue_labels(self: LabelTask, return_ids: list[str]) -> int:
    """Buy the labels of a batch of returns."""
    return self.run_batch(return_ids, labels.issue_labels)


@shared_task(base=LabelTask, bind=True, name=flow.VOID_LABEL)
def void_label(self: LabelTask, return_id: str) -> None:
    labels.void_labels(self.ctx, [parse_return_id(return_id)])


@shared_task(base=LabelTask, bind=True, name=flow.VOID_LABELS, time_limit=120, soft_time_limit=100)
def void_labels(self: LabelTask, return_ids: list[str]) -> int:
    """Void at the carrier the unused labels of a batch of expired or cancelled returns."""
    return self.run_batch(return_ids, labels.void_labels)
