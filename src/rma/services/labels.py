"""Labels: buy one prepaid return label per return from the carrier, keep its documents, start tracking; void the
labels of returns that will not ship.

A label is bought in three commits, so that a worker dying anywhere never buys two: the idempotency key is committed
before the carrier hears of the return; the carrier's shipment reference is committed before anything is bought on
it; a retry buys on that same reference, and the carrier answers a reference bought before with its label."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from rma.domain.lifecycle import Actor, Status
from rma.domain.returns import ReturnAuthorization
from rma.faults import fault_point
from rma.ports.documents import SlipData, SlipLine
from rma.ports.providers import Label, LabelRefused, LabelRequest, LabelToVoid, ProviderError, VoidOutcome
from rma.ports.stores import NewParcel, StoredLabel
from rma.services.context import StageContext
from rma.services.errors import PermanentStageError
from rma.services.loading import load_many

# Returns whose label, bought and never used, is voided at the carrier.
VOIDABLE = frozenset({Status.EXPIRED, Status.CANCELLED})


def label_key(return_id: uuid.UUID) -> str:
    return f"lbl-{return_id.hex}"


def document_key(return_id: uuid.UUID, label_format: str) -> str:
    return f"labels/{return_id}.{label_format.lower()}"


def slip_key(return_id: uuid.UUID) -> str:
    return f"slips/{return_id}.pdf"


def issue_label(ctx: StageContext, return_id: uuid.UUID) -> Status:
    return issue_labels(ctx, [return_id])[return_id]


def _wanted(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> list[LabelRequest]:
    """Reserve the keys of the returns that need a label (one transaction); their requests, with the carrier's
    reference where an earlier attempt stored one."""
    with ctx.uow() as uow:
        wanted: list[ReturnAuthorization] = []
        for ret in load_many(uow, return_ids):
            if ret.status is not Status.AUTHORIZED or (ret.decision is not None and ret.decision.returnless):
                continue
            if ret.rma_number is None:
                raise PermanentStageError(f"authorized return {ret.id} has no RMA number")
            wanted.append(ret)
        keys = {ret.id: label_key(ret.id) for ret in wanted}
        uow.labels.reserve_many(keys, carrier=ctx.carrier.name, at=ctx.clock.now())
        records = uow.labels.get_many(list(keys))
        uow.commit()
    return [
        LabelRequest(
            idempotency_key=keys[ret.id],
            rma_number=ret.rma_number or "",
            ship_from=ret.request.return_from,
            weight_oz=ctx.parcel_weight_oz,
            provider_ref=record.provider_ref if (record := records.get(ret.id)) else None,
        )
        for ret in wanted
    ]


def _open_shipments(
    ctx: StageContext, requests: list[LabelRequest], by_key: dict[str, uuid.UUID]
) -> tuple[list[LabelRequest], dict[str, LabelRefused]]:
    """Give each request a carrier reference, committed before anything is bought on it."""
    refused: dict[str, LabelRefused] = {}
    new = [request for request in requests if request.provider_ref is None]
    if not new:
        return requests, refused
    opened = ctx.carrier.open_shipments(new)
    refs = {key: ref for key, ref in opened.items() if isinstance(ref, str)}
    refused = {key: ref for key, ref in opened.items() if isinstance(ref, LabelRefused)}
    if refs:
        with ctx.uow() as uow:
            uow.labels.set_refs({by_key[key]: ref for key, ref in refs.items()})
            # Another attempt at the same return (a re-drive while this one waited on the carrier) may have stored
            # its shipment first: the stored one is bought, never ours as well. An unbought shipment costs nothing.
            stored = uow.labels.get_many([by_key[key] for key in refs])
            uow.commit()
        refs = {key: record.provider_ref for key in refs if (record := stored.get(by_key[key])) and record.provider_ref}
    ready = [
        request if request.provider_ref is not None else replace(request, provider_ref=refs[request.idempotency_key])
        for request in requests
        if request.provider_ref is not None or request.idempotency_key in refs
    ]
    return ready, refused


def _keep_documents(ctx: StageContext, return_id: uuid.UUID, label: Label) -> StoredLabel:
    """The label goes to the document store before the commit that records it. The packing slip is drawn from the
    return's data when first asked for (`rma.services.documents.packing_slip`) and kept then: 15 ms of CPU per
    return that a label stage absorbing a burst need not spend for slips nobody prints."""
    key = document_key(return_id, label.label_format)
    ctx.documents.put(key, label.document)
    qr_key = None
    if label.qr_code is not None:
        qr_key = f"labels/{return_id}-qr.png"
        ctx.documents.put(qr_key, label.qr_code)
    return StoredLabel(label=label, document_key=key, qr_key=qr_key)


def slip_data(ctx: StageContext, ret: ReturnAuthorization, tracking_number: str | None) -> SlipData:
    return SlipData(
        rma_number=ret.rma_number or str(ret.id),
        order_id=ret.request.order_id,
        customer_name=ret.request.contact.name,
        ship_to=ctx.warehouse,
        lines=tuple(
            SlipLine(sku=line.sku, item_name=line.item_name, quantity=line.quantity_to_return, reason=line.reason_code)
            for line in ret.request.lines
        ),
        tracking_number=tracking_number,
    )


def issue_labels(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Status]:
    """Buy the labels of a batch. Safe to run any number of times. A label the carrier refuses for good (an address
    it cannot ship from, no rate) parks its return in needs_attention with the carrier's words; one it could not
    answer this time (429, 5xx, a timeout) is retried with the same reference once the others are recorded."""
    requests = _wanted(ctx, return_ids)
    by_key = {label_key(return_id): return_id for return_id in return_ids}
    # Outside any transaction: the carrier is a remote system, called once per batch.
    ready, refused = _open_shipments(ctx, requests, by_key)
    answers = ctx.carrier.buy_labels(ready) if ready else {}
    fault_point("labels.after_carrier")
    bought = {key: label for key, label in answers.items() if isinstance(label, Label)}
    refused |= {key: answer for key, answer in answers.items() if isinstance(answer, LabelRefused)}
    unanswered = [
        r.idempotency_key for r in requests if r.idempotency_key not in bought and r.idempotency_key not in refused
    ]
    # The documents are written before the transaction opens, not while it holds its locks (a label another
    # attempt recorded meanwhile is the same document under the same key).
    kept = {by_key[key]: _keep_documents(ctx, by_key[key], label) for key, label in bought.items()}
    with ctx.uow() as uow:
        rets = load_many(uow, return_ids)
        now = ctx.clock.now()
        expires_at = now + ctx.timing.label_valid
        authorized = {ret.id: ret for ret in rets if ret.status is Status.AUTHORIZED}
        labelled = {ret_id: stored for ret_id, stored in kept.items() if ret_id in authorized}
        uow.labels.complete_many(labelled, at=now)
        uow.shipments.add_many(
            {
                rid: NewParcel(stored.label.tracking_number, ctx.carrier.name, stored.label.tracker_ref)
                for rid, stored in labelled.items()
            },
            next_poll_at=now + ctx.timing.first_poll_after,
            expires_at=expires_at,
        )
        for rid, stored in labelled.items():
            label = stored.label
            authorized[rid].transition(
                Status.LABEL_ISSUED,
                at=now,
                actor=Actor.CARRIER,
                cause=f"{label.carrier} {label.service} label {label.tracking_number}".replace("  ", " "),
                due_at=expires_at,
            )
            uow.returns.save(authorized[rid])
        for key, refusal in refused.items():
            ret = authorized.get(by_key[key])
            if ret is not None:
                cause = f"the carrier refused the label: {refusal.cause}"[:500]
                ret.transition(Status.NEEDS_ATTENTION, at=now, actor=Actor.CARRIER, cause=cause)
                uow.returns.save(ret)
        uow.commit()
        statuses = {ret.id: ret.status for ret in rets}
    if unanswered:
        raise ProviderError(f"the carrier did not answer for {len(unanswered)} label(s); retried", transient=True)
    return statuses


def void_labels(ctx: StageContext, return_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, VoidOutcome]:
    """Void at the carrier the labels of returns that will not ship (expired, cancelled), once each; the answer
    (refunded, submitted, rejected) says whether the label's cost is recovered. Returns that never had a label, or
    whose parcel was scanned, are left alone."""
    with ctx.uow() as uow:
        rets = {ret.id: ret for ret in load_many(uow, return_ids) if ret.status in VOIDABLE}
        records = uow.labels.get_many(list(rets))
        parcels = uow.shipments.parcels(list(records))
        voidable = [
            rid
            for rid, record in records.items()
            if record.provider_ref is not None
            and record.tracking_number is not None
            and record.void_status is None
            and (rid not in parcels or parcels[rid].shipped_at is None)
        ]
        uow.labels.request_void(voidable, at=ctx.clock.now())
        uow.commit()
    if not voidable:
        return {}
    asks = [
        LabelToVoid(records[rid].idempotency_key, records[rid].provider_ref or "", records[rid].tracking_number)
        for rid in voidable
    ]
    answers = ctx.carrier.void_labels(asks)
    by_key = {records[rid].idempotency_key: rid for rid in voidable}
    outcomes = {by_key[key]: outcome for key, outcome in answers.items() if key in by_key}
    with ctx.uow() as uow:
        uow.labels.record_voids({rid: outcome.value for rid, outcome in outcomes.items()}, at=ctx.clock.now())
        uow.commit()
    if len(outcomes) < len(voidable):
        raise ProviderError("the carrier did not answer every void request; retried", transient=True)
    return outcomes
