"""The sandbox providers' own records: what a real carrier, gateway or e-mail service keeps on its side.

They have their own metadata, apart from the production schema and its migrations, and are created only where a
sandbox runs (the composition root does it when the settings choose a sandbox provider); `rma audit` compares our
records against them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Engine, String, Text, inspect, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rma.adapters.db.tables import UtcDateTime


class SandboxBase(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


def create_sandbox_tables(engine: Engine) -> None:
    """Idempotent: creates those that do not exist yet, and adds columns a later version gave a sandbox table to one
    made before (a sandbox keeps no migrations: its data is a demo's)."""
    SandboxBase.metadata.create_all(engine)
    present = {column["name"] for column in inspect(engine).get_columns(SandboxLabelRow.__tablename__)}
    if "voided_at" not in present:
        kind = "TIMESTAMP WITH TIME ZONE" if engine.dialect.name == "postgresql" else "TIMESTAMP"
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {SandboxLabelRow.__tablename__} ADD COLUMN voided_at {kind}"))


class SandboxLabelRow(SandboxBase):
    """The sandbox carrier's own records: what a real carrier would hold on its side."""

    __tablename__ = "sandbox_carrier_labels"

    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(64), unique=True)
    rma_number: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime]
    voided_at: Mapped[datetime | None]


class SandboxRefundRow(SandboxBase):
    """The sandbox gateway's own records: one refund per idempotency key, as a real gateway keeps."""

    __tablename__ = "sandbox_gateway_refunds"

    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    refund_id: Mapped[str] = mapped_column(String(64), unique=True)
    payment_reference: Mapped[str] = mapped_column(String(128))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]


class SandboxMessageRow(SandboxBase):
    """Every customer message the sandbox notifier accepted (one per idempotency key)."""

    __tablename__ = "sandbox_notifier_messages"

    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    return_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]
