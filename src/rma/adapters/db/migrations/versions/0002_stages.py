"""Stage tables: outbox, labels, shipments, inspections, refunds, notifications, dead letters, sandbox providers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("task_name", sa.String(length=128), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("return_id", sa.Uuid(), nullable=True),
        sa.Column("kwargs", _JSON, nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("raw_body", sa.LargeBinary(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dead_letters_created", "dead_letters", ["created_at"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", _JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_created", "outbox", ["created_at"], unique=False)
    op.create_table(
        "sandbox_carrier_labels",
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("rma_number", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key"),
        sa.UniqueConstraint("tracking_number"),
    )
    op.create_table(
        "sandbox_gateway_refunds",
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("refund_id", sa.String(length=64), nullable=False),
        sa.Column("payment_reference", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key"),
        sa.UniqueConstraint("refund_id"),
    )
    op.create_table(
        "sandbox_notifier_messages",
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("return_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key"),
    )
    op.create_table(
        "inspections",
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("auto_inspect_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grade", sa.String(length=1), nullable=True),
        sa.Column("disposition", sa.String(length=24), nullable=True),
        sa.Column("inspector", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("return_id"),
    )
    op.create_index("ix_inspections_auto", "inspections", ["inspected_at", "auto_inspect_at"], unique=False)
    op.create_index("ix_inspections_due", "inspections", ["inspected_at", "due_at"], unique=False)
    op.create_table(
        "labels",
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("label_format", sa.String(length=8), nullable=True),
        sa.Column("document", sa.LargeBinary(), nullable=True),
        sa.Column("cost", sa.BigInteger(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("return_id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("tracking_number"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notifications_pending", "notifications", ["sent_at", "created_at"], unique=False)
    op.create_index("uq_notifications_event", "notifications", ["return_id", "event"], unique=True)
    op.create_table(
        "refunds",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lines", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway_refund_id", sa.String(length=64), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_refunds_order", "refunds", ["channel", "order_id"], unique=False)
    op.create_index("ix_refunds_return", "refunds", ["return_id"], unique=False)
    op.create_table(
        "shipments",
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("carrier_status", sa.String(length=32), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("polls", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("return_id"),
        sa.UniqueConstraint("tracking_number"),
    )
    op.create_index("ix_shipments_next_poll", "shipments", ["next_poll_at"], unique=False)
    with op.batch_alter_table("returns") as batch:
        batch.add_column(sa.Column("redrive_count", sa.Integer(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("returns") as batch:
        batch.drop_column("redrive_count")
    op.drop_index("ix_shipments_next_poll", table_name="shipments")
    op.drop_table("shipments")
    op.drop_index("ix_refunds_return", table_name="refunds")
    op.drop_index("ix_refunds_order", table_name="refunds")
    op.drop_table("refunds")
    op.drop_index("uq_notifications_event", table_name="notifications")
    op.drop_index("ix_notifications_pending", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("labels")
    op.drop_index("ix_inspections_due", table_name="inspections")
    op.drop_index("ix_inspections_auto", table_name="inspections")
    op.drop_table("inspections")
    op.drop_table("sandbox_notifier_messages")
    op.drop_table("sandbox_gateway_refunds")
    op.drop_table("sandbox_carrier_labels")
    op.drop_index("ix_outbox_created", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_dead_letters_created", table_name="dead_letters")
    op.drop_table("dead_letters")
