from __future__ import annotations

from celery import shared_task

from rma.services import flow, tracking
from rma.worker.base import RmaTask, parse_return_id
from rma.worker.runtime import settings_for

MAX_BATCHES_PER_TICK = 200


class TrackingTask(RmaTask):
    stage = "tracking"


@shared_task(base=TrackingTask, bind=True, name="rma.tracking.tick", time_limit=120, soft_time_limit=100)
def tick(self: TrackingTask) -> int:
    """Beat: queue one poll per batch of parcels whose next poll is due."""
    size = settings_for(self.app).tracking_batch_size
    return tracking.tick(self.ctx, batch_size=size, max_batches=MAX_BATCHES_PER_TICK)


@shared_task(base=TrackingTask, bind=True, name=flow.POLL, time_limit=120, soft_time_limit=100)
def poll(self: TrackingTask, return_ids: list[str]) -> dict[str, int]:
    """One carrier call for the whole batch."""
    if not isinstance(return_ids, list):
        raise TypeError("return_ids must be a list of UUID strings")
    return tracking.poll(self.ctx, [parse_return_id(rid) for rid in return_ids])


@shared_task(base=TrackingTask, bind=True, name=flow.APPLY_CARRIER_EVENTS, time_limit=120, soft_time_limit=100)
def apply_events(self: TrackingTask, events: list[list[str]]) -> int:
    """Apply carrier webhook events kept by the API (given by (carrier, event id), never their content)."""
    if not isinstance(events, list) or not all(
        isinstance(key, list) and len(key) == 2 and all(isinstance(part, str) for part in key) for key in events
    ):
        raise TypeError("events must be a list of [carrier, event id] pairs")
    return tracking.apply_events(self.ctx, [(carrier, event_id) for carrier, event_id in events])
