from __future__ import annotations

from celery import shared_task

from rma.domain.inspection import Grade
from rma.logging import get_logger
from rma.services import flow, inspection
from rma.worker.base import RmaTask, parse_return_id

log = get_logger(__name__)


class InspectionTask(RmaTask):
    stage = "inspection"


@shared_task(base=InspectionTask, bind=True, name=flow.INSPECT)
def inspect(self: InspectionTask, return_id: str, grade: str | None = None, inspector: str = "operator") -> None:
    """A person's grade for a delivered return. A message without a grade is a bad message (dead-lettered with its
    cause, the return parked): nobody inspected the item, so nothing may be refunded for it."""
    if grade is None:
        raise TypeError(f"a grade is required (one of: {', '.join(g.value for g in Grade)})")
    if not isinstance(inspector, str) or not inspector.strip():
        raise TypeError("inspector must name who graded the item")
    inspection.inspect(self.ctx, parse_return_id(return_id), grade=Grade(grade), inspector=inspector)


@shared_task(base=InspectionTask, bind=True, name=flow.INSPECT_MANY, time_limit=120, soft_time_limit=100)
def inspect_many(self: InspectionTask, return_ids: list[str]) -> int:
    """Sandbox: the auto-inspector's grades for a batch of delivered returns (dead-lettered where none runs)."""
    return self.run_batch(return_ids, inspection.auto_inspect_many)


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
