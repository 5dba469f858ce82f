"""The sandbox providers' tables leave the production schema: they have their own metadata now
(`rma.adapters.sandbox.tables`) and are created only where a sandbox runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SANDBOX_TABLES = ("sandbox_carrier_labels", "sandbox_gateway_refunds", "sandbox_notifier_messages")


def _exists(name: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    for name in SANDBOX_TABLES:
        if _exists(name):
            op.drop_table(name)


def downgrade() -> None:
    # A sandbox may have created its tables itself since (rma.adapters.sandbox.tables): those are kept as they are.
    if not _exists("sandbox_carrier_labels"):
        op.create_table(
            "sandbox_carrier_labels",
            sa.Column("idempotency_key", sa.String(length=64), nullable=False),
            sa.Column("tracking_number", sa.String(length=64), nullable=False),
            sa.Column("rma_number", sa.String(length=24), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("idempotency_key"),
            sa.UniqueConstraint("tracking_number"),
        )
    if not _exists("sandbox_gateway_refunds"):
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
    if not _exists("sandbox_notifier_messages"):
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
