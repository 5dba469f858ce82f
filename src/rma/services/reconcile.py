"""The reconciler: the database is the truth, the broker only a transport.

Every return whose status has outlived its deadline gets the follow-up of that status queued again (a message lost by
the broker, a worker killed mid-task, a crash between commit and publish). Re-driving is safe because every task is
idempotent; a return re-driven too often is parked in needs_attention for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rma.domain.lifecycle import Status
from rma.services.context import MACHINE_STEPS, StageContext
from rma.services.errors import PermanentStageError
from rma.services.issuance import decide_review
from rma.services.ports import Step
from rma.services.steps import NOTIFY, POLL, next_steps

_POLL_AGAIN = frozenset({Status.LABEL_ISSUED, Status.IN_TRANSIT})


@dataclass
class Reconciled:
    redriven: dict[str, int] = field(default_factory=dict)
    parked: int = 0
    notifications: int = 0
    reviewed: int = 0


def reconcile(ctx: StageContext, *, limit: int) -> Reconciled:
    result = Reconciled()
    now = ctx.clock.now()
    with ctx.uow() as uow:
        for status in (*sorted(MACHINE_STEPS), *sorted(_POLL_AGAIN)):
            ids = list(uow.returns.ids_due(status, now=now, limit=limit))
            if not ids:
                continue
            counts = uow.returns.redrive_counts(ids)
            stuck = [rid for rid in ids if counts.get(rid, 0) >= ctx.timing.max_redrives]
            for rid in stuck:
                ret = uow.returns.get(rid)
                if ret is not None:
                    ret.flag(f"stuck in {status} after {ctx.timing.max_redrives} re-drives", at=now)
                    uow.returns.save(ret)
            result.parked += len(stuck)
            retry = [rid for rid in ids if rid not in set(stuck)]
            for rid in retry:
                if status in _POLL_AGAIN:
                    uow.stores.enqueue(Step(POLL, {"return_ids": [str(rid)]}))
                else:
                    ret = uow.returns.get(rid)
                    if ret is not None:
                        uow.stores.enqueue(*next_steps(ret))
            uow.returns.postpone(retry, until=ctx.machine_deadline())
            result.redriven[status.value] = len(retry)
        stale_before = datetime.now(UTC) - timedelta(seconds=ctx.timing.redrive_after_seconds)
        for rid in uow.stores.returns_with_stale_notifications(before=stale_before, limit=limit):
            uow.stores.enqueue(Step(NOTIFY, {"return_id": str(rid)}))
            result.notifications += 1
        uow.commit()
    if ctx.auto_review:
        result.reviewed = _auto_review(ctx, now=now, limit=limit)
    return result


def _auto_review(ctx: StageContext, *, now: datetime, limit: int) -> int:
    """Sandbox stand-in for the review team: decides reviews that reached their deadline (approves most)."""
    with ctx.uow() as uow:
        due = list(uow.returns.ids_due(Status.PENDING_REVIEW, now=now, limit=limit))
    decided = 0
    for rid in due:
        try:
            decide_review(ctx, rid, approve=rid.int % 5 != 0, note="sandbox auto-review", reviewer="auto-reviewer")
        except PermanentStageError:
            continue  # decided by someone else meanwhile
        decided += 1
    return decided
