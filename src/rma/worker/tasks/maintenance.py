from __future__ import annotations

from celery import shared_task

from rma.logging import get_logger
from rma.services import closing, flow, reconcile, relay
from rma.worker.base import RmaTask, parse_return_id
from rma.worker.runtime import runtime_for, settings_for

log = get_logger(__name__)


class MaintenanceTask(RmaTask):
    stage = "maintenance"


@shared_task(base=MaintenanceTask, bind=True, name=flow.CLOSE)
def close(self: MaintenanceTask, return_id: str) -> None:
    closing.close(self.ctx, parse_return_id(return_id))


@shared_task(base=MaintenanceTask, bind=True, name=flow.CLOSE_MANY, time_limit=120, soft_time_limit=100)
def close_many(self: MaintenanceTask, return_ids: list[str]) -> int:
    """Close a batch of settled returns."""
    return self.run_batch(return_ids, closing.close_many)


@shared_task(base=MaintenanceTask, bind=True, name="rma.maintenance.reconcile", time_limit=120, soft_time_limit=100)
def reconcile_due(self: MaintenanceTask) -> dict[str, int]:
    """Beat: re-drive every return whose status outlived its deadline."""
    result = reconcile.reconcile(self.ctx, limit=2000)
    if result.redriven or result.parked:
        log.info("reconciled", redriven=result.redriven, parked=result.parked, reviewed=result.reviewed)
    return {**result.redriven, "parked": result.parked}


@shared_task(base=MaintenanceTask, bind=True, name="rma.maintenance.relay_outbox")
def relay_outbox(self: MaintenanceTask) -> int:
    """Beat: publish outbox rows their own unit of work did not (a crash between commit and publish)."""
    grace = min(5.0, settings_for(self.app).redrive_after_seconds)
    runtime = runtime_for(self.app)
    return relay.publish_pending(runtime.ctx.uow, runtime.publisher, older_than_seconds=grace)
