from __future__ import annotations

from celery import shared_task

from rma.services import flow, issuance
from rma.worker.base import RmaTask, parse_return_id


class IssuanceTask(RmaTask):
    stage = "issuance"


@shared_task(base=IssuanceTask, bind=True, name=flow.ISSUE)
def issue(self: IssuanceTask, return_id: str) -> None:
    issuance.issue(self.ctx, parse_return_id(return_id))


@shared_task(base=IssuanceTask, bind=True, name=flow.ISSUE_MANY, time_limit=120, soft_time_limit=100)
def issue_many(self: IssuanceTask, return_ids: list[str]) -> int:
    """Decide a batch (from the batch endpoint, or merged hand-ons) in one transaction."""
    return self.run_batch(return_ids, issuance.issue_many)
