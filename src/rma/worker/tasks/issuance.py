from __future__ import annotations

from celery import shared_task

from rma.services import issuance, steps
from rma.worker.base import RmaTask, parse_return_id


class IssuanceTask(RmaTask):
    stage = "issuance"


@shared_task(base=IssuanceTask, bind=True, name=steps.ISSUE)
def issue(self: IssuanceTask, return_id: str) -> None:
    issuance.issue(self.ctx, parse_return_id(return_id))
