"""Follow-up chains: which tasks run next for a return in a given status. The one place that knows the flow.

Stages queue these through the outbox when they commit, and the reconciler queues the same ones for returns whose
message was lost, so both paths agree. Task names are the message contract; tasks take ids, never personal data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final

from rma.domain.lifecycle import Status
from rma.domain.returns import ReturnAuthorization
from rma.services.ports import Step

INTAKE = "rma.intake.submit"
ISSUE = "rma.issuance.issue"
ISSUE_MANY = "rma.issuance.issue_many"
ISSUE_LABEL = "rma.labels.issue_label"
ISSUE_LABELS = "rma.labels.issue_labels"
POLL = "rma.tracking.poll"
INSPECT = "rma.inspection.inspect"
INSPECT_MANY = "rma.inspection.inspect_many"
REFUND = "rma.refunds.issue_refund"
REFUND_MANY = "rma.refunds.issue_refunds"
NOTIFY = "rma.notify.send"
NOTIFY_MANY = "rma.notify.send_batch"
NOTIFY_DISPATCH = "rma.notify.dispatch"
CLOSE = "rma.maintenance.close"
CLOSE_MANY = "rma.maintenance.close_many"

# The batch form of each per-return step, and how many returns one batch message carries. Stages that wait on a
# remote system (carrier, gateway) take small batches, so a burst still spreads over every thread of their pool.
BATCH_FORMS: Final[dict[str, tuple[str, int]]] = {
    ISSUE: (ISSUE_MANY, 100),
    ISSUE_LABEL: (ISSUE_LABELS, 10),
    INSPECT: (INSPECT_MANY, 50),
    REFUND: (REFUND_MANY, 10),
    CLOSE: (CLOSE_MANY, 100),
}


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


Chain = tuple[Step, ...]


def _per_return_id(chain: Chain) -> str | None:
    """The return id when every step of the chain is a batchable step that takes nothing but that id."""
    ids = {step.kwargs.get("return_id") for step in chain}
    if len(ids) != 1 or not all(step.task in BATCH_FORMS and len(step.kwargs) == 1 for step in chain):
        return None
    (return_id,) = ids
    return return_id if isinstance(return_id, str) else None


def batched(chains: Sequence[Chain]) -> list[Chain]:
    """Merge the per-return chains one transaction queued into batch chains, one per run of at most the smallest batch
    size of its steps: (REFUND, CLOSE) for 30 returns becomes three (REFUND_MANY, CLOSE_MANY) chains of 10 ids.

    Chains that cannot merge (a step that takes more than a return id, such as a person's grade) come first, as they
    are; a group of one stays a per-return chain. Chains are independent, so their order does not matter."""
    kept: list[Chain] = []
    groups: dict[tuple[str, ...], list[str]] = {}
    for chain in chains:
        return_id = _per_return_id(chain)
        if return_id is None:
            kept.append(chain)
            continue
        ids = groups.setdefault(tuple(step.task for step in chain), [])
        if return_id not in ids:
            ids.append(return_id)
    for names, ids in groups.items():
        if len(ids) == 1:
            kept.append(tuple(Step(name, {"return_id": ids[0]}) for name in names))
            continue
        size = min(BATCH_FORMS[name][1] for name in names)
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            kept.append(tuple(Step(BATCH_FORMS[name][0], {"return_ids": chunk}) for name in names))
    return kept
