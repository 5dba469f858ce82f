"""Typed table models. They live only here: the domain never sees them (see `mapping.py`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values; we read them back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JsonDocument}


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for bulk statements (executemany) without the ORM's per-row bookkeeping."""
    table = model.__table__
    assert isinstance(table, Table)  # noqa: S101 - declarative models map to tables
    return table


class ReturnRow(Base):
    """One return (RMA). `request` holds the intake payload, personal data included: the database is the one place
    it is kept; logs and task arguments carry only ids."""

    __tablename__ = "returns"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    upstream_request_id: Mapped[str] = mapped_column(String(128))
    order_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(String(128))
    rma_number: Mapped[str | None] = mapped_column(String(24), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    # When the current status has outlived its deadline (read by later stages' beat jobs and the reconciler).
    status_due_at: Mapped[datetime | None]
    attention_cause: Mapped[str | None] = mapped_column(String(500))
    currency: Mapped[str] = mapped_column(String(3))
    amount_captured: Mapped[int] = mapped_column(BigInteger)
    policy_version: Mapped[str | None] = mapped_column(String(32))
    request: Mapped[dict[str, Any]]
    decision: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # How many times the reconciler re-drove the current status; reset by every transition.
    redrive_count: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)

    lines: Mapped[list[ReturnLineRow]] = relationship(
        back_populates="return_",
        order_by="ReturnLineRow.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    timeline: Mapped[list[TimelineRow]] = relationship(
        order_by="TimelineRow.seq", cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declared form
    __table_args__ = (
        Index("uq_returns_channel_upstream", "channel", "upstream_request_id", unique=True),
        Index("ix_returns_channel_order", "channel", "order_id"),
        Index("ix_returns_customer", "customer_id"),
        Index("ix_returns_status_due", "status", "status_due_at"),
    )


class ReturnLineRow(Base):
    __tablename__ = "return_lines"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    position: Mapped[int]
    order_line_id: Mapped[str] = mapped_column(String(128))
    sku: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(32))

    return_: Mapped[ReturnRow] = relationship(back_populates="lines")

    __table_args__ = (
        Index("uq_return_lines_position", "return_id", "position", unique=True),
        Index("ix_return_lines_sku", "sku"),
    )


class TimelineRow(Base):
    """Append-only: rows are inserted, never updated or deleted (PostgreSQL enforces it with a trigger)."""

    __tablename__ = "return_timeline"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    seq: Mapped[int]
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(500))
    line_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("uq_return_timeline_seq", "return_id", "seq", unique=True),)


class RmaCounterRow(Base):
    """One counter per RMA prefix; an atomic increment gives each issuance a unique serial."""

    __tablename__ = "rma_counters"

    prefix: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class OutboxRow(Base):
    """Messages to publish, written in the same transaction as the change that needs them (transactional outbox)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    # {"chain": [{"task": name, "kwargs": {...}}, ...]}: task names and small JSON arguments only (ids, events).
    message: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)

    __table_args__ = (Index("ix_outbox_created", "created_at"),)


class LabelRow(Base):
    """One prepaid label per return. The idempotency key is stored before the carrier is called, and the carrier's own
    reference (an EasyPost shipment id) before anything is bought on it. The document lives in the document store
    (`document_key`); `document` holds only labels made before documents moved there."""

    __tablename__ = "labels"

    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    carrier: Mapped[str] = mapped_column(String(32))
    tracking_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    label_format: Mapped[str | None] = mapped_column(String(8))
    document: Mapped[bytes | None] = mapped_column(LargeBinary)
    cost: Mapped[int | None] = mapped_column(BigInteger)
    requested_at: Mapped[datetime]
    created_at: Mapped[datetime | None]
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    document_key: Mapped[str | None] = mapped_column(String(200))
    qr_key: Mapped[str | None] = mapped_column(String(200))
    # Voiding an unused label: requested, then the carrier's answer (refunded, submitted, rejected, not_bought).
    void_requested_at: Mapped[datetime | None]
    void_status: Mapped[str | None] = mapped_column(String(16))
    voided_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_labels_void_pending", "void_requested_at"),)


class ShipmentRow(Base):
    """A return parcel the tracking beat polls until it reaches the warehouse (or gives up); webhooks from the carrier
    move it sooner, and a parcel heard of by webhook recently is polled less often."""

    __tablename__ = "shipments"

    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(64), unique=True)
    carrier_status: Mapped[str] = mapped_column(String(32))
    next_poll_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    last_event_at: Mapped[datetime | None]
    polls: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    carrier: Mapped[str | None] = mapped_column(String(32))
    tracker_ref: Mapped[str | None] = mapped_column(String(64))
    shipped_at: Mapped[datetime | None]  # the first scan: a label scanned once is never voided
    webhook_seen_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_shipments_next_poll", "next_poll_at"),)


class ParcelEventRow(Base):
    """A parcel's history as the carrier told it (polls and webhooks), one row per distinct event."""

    __tablename__ = "parcel_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    place: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("return_id", "event_key", name="uq_parcel_events_key"),)


class CarrierEventRow(Base):
    """A carrier's webhook event, kept by its own id: a duplicate delivery is recognised and ignored."""

    __tablename__ = "carrier_events"

    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    # The tracking update as our port describes it (states, times, depot places): no customer data.
    update: Mapped[dict[str, Any]]
    applied_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_carrier_events_unapplied", "applied_at", "received_at"),)


class InspectionRow(Base):
    __tablename__ = "inspections"

    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), primary_key=True)
    due_at: Mapped[datetime]
    auto_inspect_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    inspected_at: Mapped[datetime | None]
    grade: Mapped[str | None] = mapped_column(String(1))
    disposition: Mapped[str | None] = mapped_column(String(24))
    inspector: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_inspections_due", "inspected_at", "due_at"),
        Index("ix_inspections_auto", "inspected_at", "auto_inspect_at"),
    )


class RefundRow(Base):
    """One refund decision; the gateway is called with its idempotency key, at most one refund results."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # {order_line_id: amount}: what each line receives, for per-line caps on later refunds.
    lines: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    gateway_refund_id: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_refunds_return", "return_id"),
        Index("ix_refunds_order", "channel", "order_id"),
    )


class NotificationRow(Base):
    """One customer message per (return, event); written with the transition, sent in batches by the notify stage.
    `leased_until`: a dispatch tick handed the row to a batch message; past it, a later tick hands it out again."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    leased_until: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_notifications_event", "return_id", "event", unique=True),
        Index("ix_notifications_pending", "sent_at", "created_at"),
    )


class DeadLetterRow(Base):
    """A message that could not be processed, with its cause; `rma dlq replay` sends it again after a fix."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    queue: Mapped[str | None] = mapped_column(String(64))
    task_name: Mapped[str | None] = mapped_column(String(128))
    task_id: Mapped[str | None] = mapped_column(String(64))
    return_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kwargs: Mapped[dict[str, Any] | None]
    content_type: Mapped[str | None] = mapped_column(String(64))
    raw_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    cause: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_dead_letters_created", "created_at"),)
