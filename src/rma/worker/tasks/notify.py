from __future__ import annotations

from celery import shared_task

from rma.services import flow, notify
from rma.worker.base import RmaTask, parse_return_id
from rma.worker.runtime import settings_for


class NotifyTask(RmaTask):
    stage = "notify"


@shared_task(base=NotifyTask, bind=True, name=flow.NOTIFY_DISPATCH)
def dispatch(self: NotifyTask) -> int:
    """Beat: hand unsent customer messages out in batches."""
    batch = settings_for(self.app).notify_batch_size
    return notify.dispatch(self.ctx, limit=batch * 50, batch_size=batch)


@shared_task(base=NotifyTask, bind=True, name=flow.NOTIFY_MANY)
def send_batch(self: NotifyTask, notification_ids: list[int]) -> int:
    if not isinstance(notification_ids, list) or not all(
        isinstance(nid, int) and not isinstance(nid, bool) for nid in notification_ids
    ):
        raise TypeError("notification_ids must be a list of integers")
    return notify.send_batch(self.ctx, notification_ids)


@shared_task(base=NotifyTask, bind=True, name=flow.NOTIFY)
def send(self: NotifyTask, return_id: str) -> int:
    """Send one return's pending messages now (replays, upstream callers); the dispatch tick would send them anyway."""
    return notify.send_notifications(self.ctx, parse_return_id(return_id))
