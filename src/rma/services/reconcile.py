"""The reconciler: the database is the truth, the broker only a transport.

Every return whose status has outlived its deadline gets the follow-up of that status queued again (a message lost by
the broker, a worker killed mid-task, a crash between commit and publish). Customer messages need no re-drive: the
notify dispatch tick hands out again any whose lease ran out. Re-driving is safe because every task is
idempotent; a return re-driven too often is parked in needs_attention for a person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from rma.domain.lifecycle import SETTLED_STATUSES, Status
from rma.ports.messaging import Step
from rma.ports.unit_of_work import UnitOfWork
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.flow import MACHINE_STEPS, POLL, steps_for
from rma.services.issuance import decide_review

_POLL_AGAIN = frozenset({Status.LABEL_ISSUED, Status.IN_TRANSIT})
_ANY_ID = uuid.UUID(int=0)
POLL_REDRIVE_BATCH = 50  # parcels per re-driven poll message (one carrier call each)


@dataclass
class Reconciled:
    redriven: dict[str, int] = field(default_factory=dict)
    parked: int = 0
    reviewed: int = 0
    deferred: list[str] = field(default_factory=list)


def reconcile(ctx: StageContext, *, limit: int) -> Reconciled:
    result = Reconciled()
    now = ctx.clock.now()
    with ctx.uow() as uow:
        for status in (*sorted(MACHINE_STEPS), *sorted(_POLL_AGAIN)):
            first = POLL if status in _POLL_AGAIN else steps_for(status, _ANY_ID)[0].task
            if ctx.backlog(first):
                result.deferred.append(status.value)
                continue
            _redrive(ctx, uow, status, now=now, limit=limit, result=result)
        uow.commit()
    if ctx.auto_reviewer is not None:
        result.reviewed = _auto_review(ctx, now=now, limit=limit)
    return result


def _redrive(
    ctx: StageContext, uow: UnitOfWork, status: Status, *, now: datetime, limit: int, result: Reconciled
) -> None:
    ids = list(uow.returns.ids_due(status, now=now, limit=limit))
    if not ids:
        return
    counts = uow.returns.redrive_counts(ids)
    # A settled return (refunded, rejected...) only waits to be closed: keep closing it, never park it.
    stuck = (
        set() if status in SETTLED_STATUSES else {rid for rid in ids if counts.get(rid, 0) >= ctx.timing.max_redrives}
    )
    for rid in stuck:
        ret = uow.returns.get(rid)
        if ret is not None and ret.status is status:
            ret.flag(f"stuck in {status} after {ctx.timing.max_redrives} re-drives", at=now)
            uow.returns.save(ret)
    result.parked += len(stuck)
    retry = [rid for rid in ids if rid not in stuck]
    if status in _POLL_AGAIN:
        for start in range(0, len(retry), POLL_REDRIVE_BATCH):
            uow.outbox.enqueue(
                Step(POLL, {"return_ids": [str(rid) for rid in retry[start : start + POLL_REDRIVE_BATCH]]})
            )
    else:
        for rid in retry:
            uow.outbox.enqueue(*steps_for(status, rid))  # merged into batch messages when the outbox is written
    # Exponential back-off between re-drives: a slow system must not be buried under its own re-drives.
    for attempt in sorted({counts.get(rid, 0) for rid in retry}):
        batch = [rid for rid in retry if counts.get(rid, 0) == attempt]
        wait = ctx.timing.redrive_after_seconds * 2 ** min(attempt + 1, 6)
        uow.returns.postpone(batch, until=ctx.clock.after_real_seconds(wait))
    result.redriven[status.value] = len(retry)


def _auto_review(ctx: StageContext, *, now: datetime, limit: int) -> int:
    """The sandbox stand-in for the review team decides the reviews that reached their deadline."""
    reviewer = ctx.auto_reviewer
    if reviewer is None:
        return 0
    with ctx.uow() as uow:
        due = list(uow.returns.ids_due(Status.PENDING_REVIEW, now=now, limit=limit))
    decided = 0
    for rid in due:
        try:
            decide_review(ctx, rid, approve=reviewer.approves(rid), note="sandbox auto-review", reviewer=reviewer.name)
        except PermanentStageError:
            continue  # decided by someone else meanwhile
        decided += 1
    return decided
