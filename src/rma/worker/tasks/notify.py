from __future__ import annotations

from celery import shared_task

from rma.services import notify, steps
from rma.worker.base import RmaTask, parse_return_id


class NotifyTask(RmaTask):
    stage = "notify"


@shared_task(base=NotifyTask, bind=True, name=steps.NOTIFY)
def send(self: NotifyTask, return_id: str) -> int:
    return notify.send_notifications(self.ctx, parse_return_id(return_id))
