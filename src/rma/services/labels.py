"""Labels: buy one prepaid return label per return from the carrier, store it, start tracking.

The idempotency key (derived from the return) is committed before the carrier is called, and a retry first asks the
carrier for a label with that key: one label per return even if a worker dies between the call and the commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from rma.domain.lifecycle import Actor, Status
from rma.domain.returns import ReturnAuthorization
from rma.faults import fault_point
from rma.ports.providers import LabelRequest
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.loading import load_many


def label_key(return_id: uuid.UUID) -> str:
    return f"lbl-{return_id.hex}"


def issue_label(ctx: StageContext, return_id: uuid.UUID) -> Status:
    return issue_labels(ctx, [return_id])[return_id]


def issue_labels(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Status]:
    """Buy the labels of a batch: keys committed in one transaction, one carrier call for the batch, the labels
    recorded and the returns moved in one transaction. Safe to run any number of times."""
    requests: list[tuple[LabelRequest, bool]] = []
    with ctx.uow() as uow:
        wanted: list[tuple[ReturnAuthorization, str]] = []
        for ret in load_many(uow, return_ids):
            if ret.status is not Status.AUTHORIZED or (ret.decision is not None and ret.decision.returnless):
                continue
            if ret.rma_number is None:
                raise PermanentStageError(f"authorized return {ret.id} has no RMA number")
            wanted.append((ret, ret.rma_number))
        keys = {ret.id: label_key(ret.id) for ret, _ in wanted}
        fresh = uow.labels.reserve_many(keys, carrier=ctx.carrier.name, at=ctx.clock.now())
        for ret, rma_number in wanted:
            request = LabelRequest(
                idempotency_key=keys[ret.id], rma_number=rma_number, ship_from=ret.request.return_from
            )
            requests.append((request, ret.id in fresh))
        uow.commit()
    # Outside any transaction: the carrier is a remote system, called once per batch. Only a reservation made by an
    # earlier attempt can have reached the carrier, so only those keys are first looked up among the labels it sold.
    retried = [request.idempotency_key for request, fresh in requests if not fresh]
    bought = ctx.carrier.find_labels(retried) if retried else {}
    to_buy = [request for request, _ in requests if request.idempotency_key not in bought]
    if to_buy:
        bought |= ctx.carrier.create_labels(to_buy)
    fault_point("labels.after_carrier")
    with ctx.uow() as uow:
        rets = load_many(uow, return_ids)
        now = ctx.clock.now()
        expires_at = now + ctx.timing.label_valid
        labelled = {
            ret.id: label
            for ret in rets
            if (label := bought.get(label_key(ret.id))) is not None and ret.status is Status.AUTHORIZED
        }
        uow.labels.complete_many(labelled, at=now)
        uow.shipments.add_many(
            {rid: label.tracking_number for rid, label in labelled.items()},
            next_poll_at=now + ctx.timing.first_poll_after,
            expires_at=expires_at,
        )
        for ret in rets:
            label = labelled.get(ret.id)
            if label is None:
                continue
            ret.transition(
                Status.LABEL_ISSUED,
                at=now,
                actor=Actor.CARRIER,
                cause=f"{label.carrier} label {label.tracking_number}",
                due_at=expires_at,
            )
            uow.returns.save(ret)
        uow.commit()
        return {ret.id: ret.status for ret in rets}
