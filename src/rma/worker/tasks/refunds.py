from __future__ import annotations

from celery import shared_task

from rma.services import flow, refunds
from rma.worker.base import RmaTask, parse_return_id


class RefundTask(RmaTask):
    stage = "refunds"


@shared_task(base=RefundTask, bind=True, name=flow.REFUND)
def issue_refund(self: RefundTask, return_id: str) -> None:
    refunds.issue_refund(self.ctx, parse_return_id(return_id))


@shared_task(base=RefundTask, bind=True, name=flow.REFUND_MANY, time_limit=120, soft_time_limit=100)
def issue_refunds(self: RefundTask, return_ids: list[str]) -> int:
    """Pay the refunds of a batch of returns."""
    return self.run_batch(return_ids, refunds.issue_refunds)
