"""Intake by message: upstream systems may publish `rma.intake.submit` with the request as JSON (see docs)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from rma.domain.requests import ReturnRequest
from rma.services import flow
from rma.services.intake import submit_return
from rma.worker.base import RmaTask


class IntakeTask(RmaTask):
    stage = "intake"


@shared_task(base=IntakeTask, bind=True, name=flow.INTAKE)
def submit(self: IntakeTask, request: dict[str, Any]) -> str:
    """Validate and store the request (a repeat answers with the existing return); issuance follows via the outbox."""
    parsed = ReturnRequest.model_validate(request)
    ctx = self.ctx
    return str(submit_return(ctx.uow(), parsed, now=ctx.clock.now(), due_at=ctx.machine_deadline()).return_id)
