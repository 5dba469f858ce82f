"""Merging the per-return chains of one transaction into batch messages (pure: no broker, no database)."""

from __future__ import annotations

import uuid

from rma.domain.lifecycle import Status
from rma.ports.messaging import Step
from rma.services.flow import (
    BATCH_FORMS,
    CLOSE,
    CLOSE_MANY,
    INSPECT,
    ISSUE_LABEL,
    ISSUE_LABELS,
    POLL,
    REFUND,
    REFUND_MANY,
    batched,
    steps_for,
)


def _ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def test_chains_of_many_returns_become_batches_no_larger_than_their_smallest_step() -> None:
    ids = _ids(25)
    # A two-step chain per return (the flow's own chains are one step each today; the merge is general).
    merged = batched([(Step(REFUND, {"return_id": rid}), Step(CLOSE, {"return_id": rid})) for rid in ids])
    assert BATCH_FORMS[REFUND][1] < BATCH_FORMS[CLOSE][1]
    assert [[step.task for step in chain] for chain in merged] == [[REFUND_MANY, CLOSE_MANY]] * 3
    assert [len(chain[0].kwargs["return_ids"]) for chain in merged] == [10, 10, 5]
    # both steps of a chain carry the same ids, and every id is in exactly one chain, in order
    assert all(chain[0].kwargs == chain[1].kwargs for chain in merged)
    assert [rid for chain in merged for rid in chain[0].kwargs["return_ids"]] == ids


def test_different_chains_are_batched_apart_and_a_lone_return_keeps_its_own_message() -> None:
    labels, closes, lone = _ids(3), _ids(2), _ids(1)
    chains = [
        *(steps_for(Status.AUTHORIZED, uuid.UUID(rid)) for rid in labels),
        *(steps_for(Status.REJECTED, uuid.UUID(rid)) for rid in closes),
        steps_for(Status.REFUNDED, uuid.UUID(lone[0])),
    ]
    chains.insert(1, steps_for(Status.REJECTED, uuid.UUID(closes[0])))  # queued twice: one message still
    merged = batched(chains)
    assert merged == [
        (Step(ISSUE_LABELS, {"return_ids": labels}),),
        (Step(CLOSE_MANY, {"return_ids": [*closes, lone[0]]}),),
    ]
    assert batched([steps_for(Status.AUTHORIZED, uuid.UUID(lone[0]))]) == [(Step(ISSUE_LABEL, {"return_id": lone[0]}),)]


def test_steps_carrying_more_than_a_return_id_are_never_merged() -> None:
    graded = [(Step(INSPECT, {"return_id": rid, "grade": "A"}),) for rid in _ids(2)]
    polls = [(Step(POLL, {"return_ids": _ids(3)}),)]
    assert batched([*graded, *polls]) == [*graded, *polls]
