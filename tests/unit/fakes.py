"""In-memory fakes of the small ports: a unit of work with the stores a service touches, and a carrier.

They keep just enough behaviour to be honest (a rollback forgets, a commit asks the real flow what follows), so the
services can be tested without a database or a broker."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from rma.domain.policy.evaluate import OrderHistory
from rma.domain.returns import ReturnAuthorization
from rma.ports.documents import LabelData, SlipData
from rma.ports.messaging import Announcement, Chain, Change, Step
from rma.ports.providers import (
    Label,
    LabelRefused,
    LabelRequest,
    LabelToVoid,
    TrackedParcel,
    TrackingUpdate,
    VoidOutcome,
)
from rma.ports.stores import LabelRecord, NewParcel, Parcel, StoredLabel
from rma.services.flow import ReturnFlow


@dataclass
class Database:
    """What the fakes keep between units of work (a committed state)."""

    returns: dict[UUID, ReturnAuthorization] = field(default_factory=dict)
    labels: dict[UUID, LabelRecord] = field(default_factory=dict)
    shipments: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    outbox: list[Chain] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class FakeReturns:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.staged: dict[UUID, ReturnAuthorization] = {}
        self.changes: dict[UUID, Change] = {}
        self._loaded: dict[UUID, int] = {}

    def add(self, ret: ReturnAuthorization) -> None:
        self.staged[ret.id] = ret
        self.changes[ret.id] = Change(ret, list(ret.timeline))

    def get_many(self, return_ids: Sequence[UUID]) -> dict[UUID, ReturnAuthorization]:
        found = {rid: self._db.returns[rid].model_copy(deep=True) for rid in return_ids if rid in self._db.returns}
        self._loaded.update({rid: len(ret.timeline) for rid, ret in found.items()})
        return found

    def get(self, return_id: UUID) -> ReturnAuthorization | None:
        return self.get_many([return_id]).get(return_id)

    def save(self, ret: ReturnAuthorization) -> None:
        self.staged[ret.id] = ret
        self.changes[ret.id] = Change(ret, ret.timeline[self._loaded.get(ret.id, 0) :])

    def order_histories(self, rets: Sequence[ReturnAuthorization]) -> dict[UUID, OrderHistory]:
        return {ret.id: OrderHistory() for ret in rets}


class FakeLabels:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.staged: dict[UUID, LabelRecord] = {}

    def get(self, return_id: UUID) -> LabelRecord | None:
        return self.staged.get(return_id) or self._db.labels.get(return_id)

    def get_many(self, return_ids: Sequence[UUID]) -> dict[UUID, LabelRecord]:
        return {rid: record for rid in return_ids if (record := self.get(rid)) is not None}

    def reserve_many(self, keys: dict[UUID, str], *, carrier: str, at: datetime) -> set[UUID]:  # noqa: ARG002
        fresh = {rid for rid in keys if self.get(rid) is None}
        self.staged.update({rid: LabelRecord(rid, keys[rid], carrier, None, None, None) for rid in fresh})
        return fresh

    def set_refs(self, refs: dict[UUID, str]) -> None:
        for return_id, ref in refs.items():
            reserved = self._reserved(return_id)
            if reserved.provider_ref is None:  # the first stored stays, as in the real store
                self.staged[return_id] = replace(reserved, provider_ref=ref)

    def _reserved(self, return_id: UUID) -> LabelRecord:
        reserved = self.get(return_id)
        if reserved is None:
            raise LookupError(f"no label reservation for return {return_id}")
        return reserved

    def complete_many(self, labels: dict[UUID, StoredLabel], *, at: datetime) -> None:  # noqa: ARG002
        for return_id, stored in labels.items():
            label = stored.label
            self.staged[return_id] = replace(
                self._reserved(return_id),
                tracking_number=label.tracking_number,
                label_format=label.label_format,
                document_key=stored.document_key,
                provider_ref=label.provider_ref,
            )


class FakeShipments:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.staged: dict[UUID, dict[str, Any]] = {}

    def add_many(self, parcels: dict[UUID, NewParcel], *, next_poll_at: datetime, expires_at: datetime) -> None:
        for return_id, parcel in parcels.items():
            if return_id not in self._db.shipments:
                self.staged[return_id] = {
                    "tracking": parcel.tracking_number,
                    "next_poll_at": next_poll_at,
                    "expires": expires_at,
                }

    def parcels(self, return_ids: Sequence[UUID]) -> dict[UUID, Parcel]:
        known = {**self._db.shipments, **self.staged}
        return {
            rid: Parcel(known[rid]["tracking"], known[rid]["expires"], "label_created")
            for rid in return_ids
            if rid in known
        }


class MemoryDocuments:
    """A document store in a dict."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    def put(self, key: str, content: bytes) -> None:
        self.kept[key] = content

    def get(self, key: str) -> bytes | None:
        return self.kept.get(key)


class TextRenderer:
    """Documents as short text: enough to tell which data went into which document."""

    def label(self, data: LabelData, *, label_format: str) -> bytes:
        return f"{label_format} label {data.rma_number} {data.tracking_number}".encode()

    def packing_slip(self, data: SlipData) -> bytes:
        return f"slip {data.rma_number} {len(data.lines)} lines".encode()

    def pdf_to_png(self, pdf: bytes) -> bytes:
        return b"PNG of " + pdf


class FakeOutbox:
    def __init__(self) -> None:
        self.queued: list[Chain] = []

    def enqueue(self, *steps: Step) -> None:
        self.queued.append(steps)


class FakeUnitOfWork:
    """Commit applies what was staged and, as the real one does, asks the flow what follows the saved returns."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __enter__(self) -> Self:
        self.returns = FakeReturns(self._db)
        self.labels = FakeLabels(self._db)
        self.shipments = FakeShipments(self._db)
        self.outbox = FakeOutbox()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.returns.staged.clear()  # whatever was not committed is forgotten

    def commit(self) -> None:
        follow_ups = ReturnFlow().follow_ups(list(self.returns.changes.values()), self.outbox.queued)
        self._db.returns.update({rid: ret.model_copy(deep=True) for rid, ret in self.returns.staged.items()})
        self._db.labels.update(self.labels.staged)
        self._db.shipments.update(self.shipments.staged)
        self._db.outbox.extend(follow_ups.chains)
        self._db.announcements.extend(follow_ups.announcements)
        self.returns.staged.clear()
        self.returns.changes.clear()

    def next_rma_serials(self, prefix: str, count: int) -> range:  # noqa: ARG002
        first = next(self._db.serials)
        for _ in range(count - 1):
            next(self._db.serials)
        return range(first, first + count)

    def lock_order(self, channel: str, order_id: str) -> None:
        pass


@dataclass
class FakeCarrier:
    """Opens one shipment and sells one label per idempotency key, as a real carrier's API does; counts its calls."""

    name: str = "fake"
    sold: dict[str, Label] = field(default_factory=dict)
    opened: dict[str, str] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)  # rma number -> cause
    calls: int = 0

    def open_shipments(self, requests: Sequence[LabelRequest]) -> dict[str, str | LabelRefused]:
        self.calls += 1
        answers: dict[str, str | LabelRefused] = {}
        for request in requests:
            if request.rma_number in self.refuse:
                answers[request.idempotency_key] = LabelRefused(self.refuse[request.rma_number])
                continue
            ref = self.opened.setdefault(request.idempotency_key, f"shp_{len(self.opened) + 1}")
            answers[request.idempotency_key] = ref
        return answers

    def buy_labels(self, requests: Sequence[LabelRequest]) -> dict[str, Label | LabelRefused]:
        self.calls += 1
        for request in requests:
            assert request.provider_ref == self.opened[request.idempotency_key], "bought on an unknown shipment"
            self.sold.setdefault(
                request.idempotency_key,
                Label(
                    f"TRK{len(self.sold) + 1:06d}", self.name, "ZPL", b"^XA^XZ", 795, provider_ref=request.provider_ref
                ),
            )
        return {request.idempotency_key: self.sold[request.idempotency_key] for request in requests}

    def void_labels(self, labels: Sequence[LabelToVoid]) -> dict[str, VoidOutcome]:  # noqa: ARG002
        raise AssertionError("not used by these tests")

    def track(self, parcels: Sequence[TrackedParcel]) -> dict[str, TrackingUpdate]:  # noqa: ARG002
        raise AssertionError("not used by these tests")
