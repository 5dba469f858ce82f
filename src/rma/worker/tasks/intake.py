"""Intake by message: upstream systems may publish `rma.intake.submit` with the request as JSON (see docs)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from rma.domain.errors import DomainError
from rma.domain.requests import ReturnRequest, date_problems
from rma.services import flow
from rma.services.intake import submit_return
from rma.worker.base import RmaTask


class IntakeTask(RmaTask):
    stage = "intake"


class InvalidRequestDatesError(DomainError):
    """Dates no real order has as of the worker's clock (see `date_problems`): dead-lettered, nothing stored."""


@shared_task(base=IntakeTask, bind=True, name=flow.INTAKE)
def submit(self: IntakeTask, request: dict[str, Any]) -> str:
    """Validate and store the request (a repeat answers with the existing return); issuance follows via the outbox.

    Refused for good, so dead-lettered with the cause: an invalid request, implausible dates, or an upstream request
    id already used for a different request (`IdempotencyKeyReusedError`)."""
    parsed = ReturnRequest.model_validate(request)
    ctx = self.ctx
    if problems := date_problems(parsed, today=ctx.clock.now().date()):
        raise InvalidRequestDatesError("; ".join(f"{problem.field}: {problem.reason}" for problem in problems))
    return str(submit_return(ctx.uow(), parsed, now=ctx.clock.now(), due_at=ctx.machine_deadline()).return_id)
