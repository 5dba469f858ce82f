from __future__ import annotations

from celery import shared_task

from rma.services import issuance, steps
from rma.worker.base import RmaTask, is_transient, parse_return_id


class IssuanceTask(RmaTask):
    stage = "issuance"


@shared_task(base=IssuanceTask, bind=True, name=steps.ISSUE)
def issue(self: IssuanceTask, return_id: str) -> None:
    issuance.issue(self.ctx, parse_return_id(return_id))


@shared_task(base=IssuanceTask, bind=True, name=steps.ISSUE_MANY, time_limit=120, soft_time_limit=100)
def issue_many(self: IssuanceTask, return_ids: list[str]) -> int:
    """Decide a batch from the batch endpoint: one message, each return in its own transaction. A return that fails
    for good is dead-lettered alone; a transient failure retries the batch (decided returns are skipped then)."""
    if not isinstance(return_ids, list):
        raise TypeError("return_ids must be a list of UUID strings")
    for raw in return_ids:
        return_id = parse_return_id(raw)
        try:
            issuance.issue(self.ctx, return_id)
        except Exception as exc:
            if is_transient(exc):
                raise
            self.give_up(exc, {"return_id": raw}, exhausted=False)
    return len(return_ids)
