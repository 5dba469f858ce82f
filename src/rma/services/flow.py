"""The lifecycle of a return as the system drives it: for each status, the step that follows, whether the customer
hears of it, and how long the return may wait there. The one place that knows the flow.

Services only change and save the aggregate. When a unit of work commits, it asks `ReturnFlow.follow_ups` what
follows each return saved in it: the chain of the return's new status (merged with other returns' into batch
messages) goes to the outbox, each customer-visible status change becomes a message row, both in the same
transaction. The reconciler re-sends the same chains (`steps_for`) for returns whose message was lost, so both paths
agree. Beat fan-outs (tracking tick, notify dispatch, auto-inspection) queue their own steps explicitly
(`UnitOfWork.outbox.enqueue`). Task names are the message contract; tasks take ids, never personal data.


The table is `LIFECYCLE` below: per status, its next step, whether it is announced, and its `Wait`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

from rma.domain.lifecycle import Status
from rma.domain.returns import ReturnAuthorization
from rma.ports.clock import Clock
from rma.ports.messaging import Announcement, Chain, Change, FollowUps, Step

INTAKE = "rma.intake.submit"
ISSUE = "rma.issuance.issue"
ISSUE_MANY = "rma.issuance.issue_many"
ISSUE_LABEL = "rma.labels.issue_label"
ISSUE_LABELS = "rma.labels.issue_labels"
VOID_LABEL = "rma.labels.void_label"
VOID_LABELS = "rma.labels.void_labels"
POLL = "rma.tracking.poll"
APPLY_CARRIER_EVENTS = "rma.tracking.apply_events"
INSPECT = "rma.inspection.inspect"
INSPECT_MANY = "rma.inspection.inspect_many"
REFUND = "rma.refunds.issue_refund"
REFUND_MANY = "rma.refunds.issue_refunds"
NOTIFY = "rma.notify.send"
NOTIFY_MANY = "rma.notify.send_batch"
NOTIFY_DISPATCH = "rma.notify.dispatch"
CLOSE = "rma.maintenance.close"
CLOSE_MANY = "rma.maintenance.close_many"


@dataclass(frozen=True, slots=True)
class Timing:
    """Deadlines. Machine steps are measured in wall-clock seconds (message latency is real); waits on the outside
    world (customers, carriers, inspectors) in application time, which the simulated clock speeds up."""

    redrive_after_seconds: float = 60.0
    max_redrives: int = 5
    review_sla: timedelta = timedelta(days=2)
    label_valid: timedelta = timedelta(days=14)
    first_poll_after: timedelta = timedelta(hours=2)
    poll_every: timedelta = timedelta(hours=6)
    # A travelling parcel with a delivery estimate is next polled at the estimate, but never later than this: an
    # exception on the road (lost, damaged) is seen within it.
    poll_max_gap: timedelta = timedelta(hours=24)
    max_transit: timedelta = timedelta(days=30)
    # A parcel whose carrier sends webhooks needs polling only as a safety net for the webhooks that never come.
    poll_after_webhook: timedelta = timedelta(hours=48)
    # A parcel travelling this long without a scan is probably lost: a person looks (and claims with the carrier).
    lost_after: timedelta = timedelta(days=10)


class Wait(Enum):
    """How long a return may stay in a status before the reconciler (or a person) must look at it."""

    MACHINE = "machine"  # our own next step: re-driven after `redrive_after_seconds` of wall-clock time
    REVIEW = "review"  # a reviewer's decision, within `review_sla`
    LABEL = "label"  # the customer's drop-off, within the label's validity
    TRANSIT = "transit"  # the carrier's delivery, within `max_transit`
    INSPECTION = "inspection"  # the warehouse's grade: business days after delivery, set by the tracking stage
    NONE = "none"  # a person's or the carrier's move, or the end


@dataclass(frozen=True, slots=True)
class Stage:
    next: tuple[str, ...]
    announced: bool
    wait: Wait


LIFECYCLE: Final[dict[Status, Stage]] = {
    Status.REQUESTED: Stage((ISSUE,), announced=False, wait=Wait.MACHINE),
    Status.PENDING_REVIEW: Stage((), announced=True, wait=Wait.REVIEW),
    Status.AUTHORIZED: Stage((ISSUE_LABEL,), announced=True, wait=Wait.MACHINE),
    Status.LABEL_ISSUED: Stage((), announced=True, wait=Wait.LABEL),
    Status.IN_TRANSIT: Stage((), announced=True, wait=Wait.TRANSIT),
    Status.EXCEPTION: Stage((), announced=True, wait=Wait.NONE),
    Status.DELIVERED: Stage((), announced=True, wait=Wait.INSPECTION),
    Status.INSPECTED: Stage((CLOSE,), announced=True, wait=Wait.MACHINE),
    Status.REFUND_PENDING: Stage((REFUND,), announced=False, wait=Wait.MACHINE),
    Status.REFUNDED: Stage((CLOSE,), announced=True, wait=Wait.MACHINE),
    Status.REFUND_FAILED: Stage((), announced=True, wait=Wait.NONE),
    Status.REJECTED: Stage((CLOSE,), announced=True, wait=Wait.MACHINE),
    # A label that will never be used is voided at the carrier before the return closes (its cost may come back).
    Status.EXPIRED: Stage((VOID_LABEL, CLOSE), announced=True, wait=Wait.MACHINE),
    Status.CANCELLED: Stage((VOID_LABEL, CLOSE), announced=True, wait=Wait.MACHINE),
    Status.NEEDS_ATTENTION: Stage((), announced=False, wait=Wait.NONE),
    Status.CLOSED: Stage((), announced=False, wait=Wait.NONE),
}

# Statuses whose next step is ours alone: if the message carrying it is lost, the reconciler sends it again.
MACHINE_STEPS: Final = frozenset(status for status, stage in LIFECYCLE.items() if stage.wait is Wait.MACHINE)
ANNOUNCED: Final = frozenset(status for status, stage in LIFECYCLE.items() if stage.announced)

# The batch form of each per-return step, and how many returns one batch message carries. Stages that wait on a
# remote system (carrier, gateway) take small batches, so a burst still spreads over every thread of their pool.
BATCH_FORMS: Final[dict[str, tuple[str, int]]] = {
    ISSUE: (ISSUE_MANY, 100),
    ISSUE_LABEL: (ISSUE_LABELS, 10),
    VOID_LABEL: (VOID_LABELS, 10),
    REFUND: (REFUND_MANY, 10),
    CLOSE: (CLOSE_MANY, 100),
}


def steps_for(status: Status, return_id: uuid.UUID) -> Chain:
    """The chain to run for a return in `status` (empty when the next move is someone else's)."""
    ids = {"return_id": str(return_id)}
    return tuple(Step(task, ids) for task in LIFECYCLE[status].next)


def next_steps(ret: ReturnAuthorization) -> Chain:
    return steps_for(ret.status, ret.id)


def deadline(status: Status, *, now: datetime, timing: Timing, clock: Clock) -> datetime | None:
    """When a return that has just entered `status` is overdue (None: no deadline of ours, or one the stage sets from
    what it knows, such as the inspection deadline in business days of the policy's calendar)."""
    wait = LIFECYCLE[status].wait
    if wait is Wait.MACHINE:
        return clock.after_real_seconds(timing.redrive_after_seconds)
    waits = {Wait.REVIEW: timing.review_sla, Wait.LABEL: timing.label_valid, Wait.TRANSIT: timing.max_transit}
    span = waits.get(wait)
    return None if span is None else now + span


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


class ReturnFlow:
    """The unit of work's hook at commit (`rma.ports.messaging.Flow`)."""

    def follow_ups(self, changes: Sequence[Change], queued: Sequence[Chain]) -> FollowUps:
        chains = list(queued)
        announcements: list[Announcement] = []
        for change in changes:
            moves = [entry for entry in change.entries if entry.line_id is None]
            if not moves:
                continue  # saved without a status change (a line settled, a note): nothing follows
            if chain := next_steps(change.ret):
                chains.append(chain)
            # One message per (return, event): a status reached twice (a parcel back in transit) is announced once.
            announced = [entry for entry in moves if entry.to_status in ANNOUNCED]
            announcements.extend(Announcement(change.ret.id, entry.to_status, entry.seq) for entry in announced)
        return FollowUps(chains=[chain for chain in batched(chains) if chain], announcements=announcements)
