"""Follow-up chains: which tasks run next for a return in a given status. The one place that knows the flow.

Stages queue these through the outbox when they commit, and the reconciler queues the same ones for returns whose
message was lost, so both paths agree. Task names are the message contract; tasks take ids, never personal data.
"""

from __future__ import annotations

import uuid

from rma.domain.lifecycle import Status
from rma.domain.returns import ReturnAuthorization
from rma.services.ports import Step

INTAKE = "rma.intake.submit"
ISSUE = "rma.issuance.issue"
ISSUE_MANY = "rma.issuance.issue_many"
ISSUE_LABEL = "rma.labels.issue_label"
POLL = "rma.tracking.poll"
INSPECT = "rma.inspection.inspect"
REFUND = "rma.refunds.issue_refund"
NOTIFY = "rma.notify.send"
NOTIFY_MANY = "rma.notify.send_batch"
NOTIFY_DISPATCH = "rma.notify.dispatch"
CLOSE = "rma.maintenance.close"


def next_steps(ret: ReturnAuthorization) -> tuple[Step, ...]:
    """The chain to run for `ret` in its current status (empty when the next move is someone else's)."""
    return steps_for(ret.status, ret.id)


def steps_for(status: Status, return_id: uuid.UUID) -> tuple[Step, ...]:
    """The same, from the status alone (the reconciler need not load the whole return)."""
    ids = {"return_id": str(return_id)}
    # Customer messages are not steps: they are rows written with each status change, sent in batches by the notify
    # stage's dispatch tick (see rma.services.notify).
    chains: dict[Status, tuple[str, ...]] = {
        Status.REQUESTED: (ISSUE,),
        Status.AUTHORIZED: (ISSUE_LABEL,),
        Status.REFUND_PENDING: (REFUND, CLOSE),
        Status.REFUNDED: (CLOSE,),
        Status.REJECTED: (CLOSE,),
        Status.EXPIRED: (CLOSE,),
        Status.CANCELLED: (CLOSE,),
        Status.INSPECTED: (CLOSE,),
    }
    return tuple(Step(task, ids) for task in chains.get(status, ()))
