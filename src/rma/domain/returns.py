"""The return aggregate: one RMA with its lines, its decision and its append-only timeline.

All status changes go through `ReturnAuthorization.transition`, which consults the lifecycle table and appends a
timeline entry; lines follow the return unless they were settled on their own (a rejected line of a partly
authorized return stays rejected). Persistence adapters load and save this object; they never change its status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from rma.domain.errors import DomainError
from rma.domain.lifecycle import (
    SETTLED_STATUSES,
    Actor,
    Status,
    TimelineEntry,
    ensure_allowed,
    is_allowed,
    make_entry,
)
from rma.domain.policy.evaluate import Decision, Outcome
from rma.domain.requests import ReturnRequest

_OUTCOME_STATUS = {
    Outcome.AUTHORIZE: Status.AUTHORIZED,
    Outcome.REVIEW: Status.PENDING_REVIEW,
    Outcome.REJECT: Status.REJECTED,
}


class ReturnLine(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    order_line_id: str
    sku: str
    category: str
    quantity: int = Field(ge=1)
    status: Status


class ReturnAuthorization(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: UUID
    request: ReturnRequest
    status: Status
    rma_number: str | None = None
    decision: Decision | None = None
    lines: list[ReturnLine]
    timeline: list[TimelineEntry]
    attention_cause: str | None = None
    # When the current status outlives its deadline (no label bought, no carrier scan, no inspection...): the
    # reconciler and beat jobs select returns by (status, due_at). None: the status has no deadline.
    due_at: AwareDatetime | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    # Optimistic concurrency: the version this object was loaded at (0 = never saved). Only the repository changes it.
    version: int = 0

    @classmethod
    def receive(cls, request: ReturnRequest, *, return_id: UUID, at: datetime, due_at: datetime | None = None) -> Self:
        """A new return in status `requested`, as the upstream system sent it."""
        entry = make_entry(
            seq=1,
            from_status=None,
            to_status=Status.REQUESTED,
            at=at,
            actor=Actor.UPSTREAM,
            cause="request received",
        )
        return cls(
            id=return_id,
            request=request,
            status=Status.REQUESTED,
            lines=[
                ReturnLine(
                    order_line_id=line.order_line_id,
                    sku=line.sku,
                    category=line.category,
                    quantity=line.quantity_to_return,
                    status=Status.REQUESTED,
                )
                for line in request.lines
            ],
            timeline=[entry],
            due_at=due_at,
            created_at=at,
            updated_at=at,
        )

    @property
    def channel(self) -> str:
        return self.request.channel

    @property
    def upstream_request_id(self) -> str:
        return self.request.upstream_request_id

    def _append(self, target: Status, *, at: datetime, actor: Actor, cause: str, line_id: str | None) -> None:
        current = self.status if line_id is None else self.line(line_id).status
        self.timeline.append(
            make_entry(
                seq=len(self.timeline) + 1,
                from_status=current,
                to_status=target,
                at=at,
                actor=actor,
                cause=cause,
                line_id=line_id,
            )
        )

    def line(self, order_line_id: str) -> ReturnLine:
        for line in self.lines:
            if line.order_line_id == order_line_id:
                return line
        raise DomainError(f"return {self.id} has no line {order_line_id!r}")

    def transition(
        self, target: Status, *, at: datetime, actor: Actor, cause: str, due_at: datetime | None = None
    ) -> None:
        """Move the return (and every line still moving with it) to `target`, or raise InvalidTransitionError.

        `due_at` is the new status's deadline; every transition replaces the previous one."""
        ensure_allowed(self.status, target)
        self._append(target, at=at, actor=actor, cause=cause, line_id=None)
        for line in self.lines:
            # Lines settled on their own (a rejected line) stay put until the whole return closes.
            moves_with_return = line.status not in SETTLED_STATUSES or target is Status.CLOSED
            if moves_with_return and is_allowed(line.status, target):
                line.status = target
        self.status = target
        self.attention_cause = cause if target is Status.NEEDS_ATTENTION else None
        self.due_at = due_at
        self.updated_at = at

    def transition_line(self, order_line_id: str, target: Status, *, at: datetime, actor: Actor, cause: str) -> None:
        line = self.line(order_line_id)
        ensure_allowed(line.status, target)
        self._append(target, at=at, actor=actor, cause=cause, line_id=order_line_id)
        line.status = target
        self.updated_at = at

    def apply_decision(
        self, decision: Decision, *, rma_number: str | None, at: datetime, due_at: datetime | None = None
    ) -> None:
        """Record the policy's decision: rejected lines settle on their own, then the return follows the outcome."""
        target = _OUTCOME_STATUS[decision.decision]
        if target is not Status.REJECTED and rma_number is None:
            raise DomainError("an authorized or reviewed return needs an RMA number")
        rejected = [] if target is Status.REJECTED else [d for d in decision.lines if d.outcome is Outcome.REJECT]
        # Check every move before changing anything: a decision that cannot apply leaves the return as it was.
        ensure_allowed(self.status, target)
        for line_decision in rejected:
            ensure_allowed(self.line(line_decision.order_line_id).status, Status.REJECTED)
        self.decision = decision
        self.rma_number = rma_number
        for line_decision in rejected:
            self.transition_line(
                line_decision.order_line_id,
                Status.REJECTED,
                at=at,
                actor=Actor.POLICY,
                cause=("; ".join(line_decision.reasons) or "rejected by policy")[:500],
            )
        cause = "; ".join(decision.reasons) or decision.decision.value
        self.transition(target, at=at, actor=Actor.POLICY, cause=cause[:500], due_at=due_at)

    def flag(self, cause: str, *, at: datetime, actor: Actor = Actor.SYSTEM) -> None:
        """Park the return for a person, saying why."""
        self.transition(Status.NEEDS_ATTENTION, at=at, actor=actor, cause=cause[:500])
