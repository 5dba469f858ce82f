from __future__ import annotations

from celery import shared_task

from rma.services import labels, steps
from rma.worker.base import RmaTask, parse_return_id


class LabelTask(RmaTask):
    stage = "labels"


@shared_task(base=LabelTask, bind=True, name=steps.ISSUE_LABEL)
def issue_label(self: LabelTask, return_id: str) -> None:
    labels.issue_label(self.ctx, parse_return_id(return_id))
