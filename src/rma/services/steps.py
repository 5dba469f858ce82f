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
CLOSE = "rma.maintenance.close"


def next_steps(ret: ReturnAuthorization) -> tuple[Step, ...]:
    """The chain to run for `ret` in its current status (empty when the next move is someone else's)."""
    return steps_for(ret.status, ret.id)


def steps_for(status: Status, return_id: uuid.UUID) -> tuple[Step, ...]:
    """The same, from the status alone (the reconciler need not load the whole return)."""
    ids = {"return_id": str(return_id)}
    chains: dict[Status, tuple[str, ...]] = {
        Status.REQUESTED: (ISSUE,),
        Status.AUTHORIZED: (ISSUE_LABEL, NOTIFY),
        Status.REFUND_PENDING: (REFUND, NOTIFY, CLOSE),
        Status.REFUNDED: (NOTIFY, CLOSE),
        Status.REJECTED: (NOTIFY, CLOSE),
        Status.EXPIRED: (NOTIFY, CLOSE),
        Status.CANCELLED: (NOTIFY, CLOSE),
        Status.INSPECTED: (NOTIFY, CLOSE),
        Status.PENDING_REVIEW: (NOTIFY,),
        Status.LABEL_ISSUED: (NOTIFY,),
        Status.IN_TRANSIT: (NOTIFY,),
        Status.DELIVERED: (NOTIFY,),
        Status.EXCEPTION: (NOTIFY,),
        Status.REFUND_FAILED: (NOTIFY,),
        # Closed straight from inspection (nothing refundable): the inspection result still has to be told.
        Status.CLOSED: (NOTIFY,),
    }
    return tuple(Step(task, ids) for task in chains.get(status, ()))
