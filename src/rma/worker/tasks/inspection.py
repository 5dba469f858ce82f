from __future__ import annotations

from celery import shared_task

from rma.domain.inspection import Grade
from rma.logging import get_logger
from rma.services import inspection, steps
from rma.worker.base import RmaTask, parse_return_id

log = get_logger(__name__)


class InspectionTask(RmaTask):
    stage = "inspection"


@shared_task(base=InspectionTask, bind=True, name=steps.INSPECT)
def inspect(self: InspectionTask, return_id: str, grade: str | None = None, inspector: str = "auto-inspector") -> None:
    inspection.inspect(self.ctx, parse_return_id(return_id), grade=Grade(grade) if grade else None, inspector=inspector)


@shared_task(base=InspectionTask, bind=True, name=steps.INSPECT_MANY, time_limit=120, soft_time_limit=100)
def inspect_many(self: InspectionTask, return_ids: list[str]) -> int:
    """The auto-inspector's grades for a batch of delivered returns."""
    return self.run_batch(
        return_ids, lambda ctx, ids: inspection.inspect_many(ctx, ids, grade=None, inspector="auto-inspector")
    )


@shared_task(base=InspectionTask, bind=True, name="rma.inspection.auto_tick")
def auto_tick(self: InspectionTask) -> int:
    """Beat (sandbox only): hand delivered parcels to the auto-inspector when their turn comes."""
    return inspection.auto_tick(self.ctx, limit=1000)


@shared_task(base=InspectionTask, bind=True, name="rma.inspection.escalate")
def escalate(self: InspectionTask) -> int:
    """Beat: flag inspections past their deadline (refund SLA) for the warehouse lead."""
    overdue = inspection.escalate_overdue(self.ctx, limit=1000)
    if overdue:
        log.warning("inspections_overdue", count=len(overdue), return_ids=[str(rid) for rid in overdue[:20]])
    return len(overdue)
