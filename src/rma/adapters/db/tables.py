"""Typed table models. They live only here: the domain never sees them (see `mapping.py`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Uuid, text
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
