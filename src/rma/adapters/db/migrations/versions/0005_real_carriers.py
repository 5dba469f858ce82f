"""Real carriers: a label's carrier reference, service, document key and void state; a parcel's tracker, first scan
and last webhook; each parcel's event history; carrier webhook events kept by id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LABEL_COLUMNS = (
    ("provider_ref", sa.String(length=64)),
    ("service", sa.String(length=64)),
    ("currency", sa.String(length=3)),
    ("document_key", sa.String(length=200)),
    ("qr_key", sa.String(length=200)),
    ("void_requested_at", sa.DateTime(timezone=True)),
    ("void_status", sa.String(length=16)),
    ("voided_at", sa.DateTime(timezone=True)),
)
_SHIPMENT_COLUMNS = (
    ("carrier", sa.String(length=32)),
    ("tracker_ref", sa.String(length=64)),
    ("shipped_at", sa.DateTime(timezone=True)),
    ("webhook_seen_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("labels") as batch:
        for name, kind in _LABEL_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.create_index("ix_labels_void_pending", ["void_requested_at"])
    with op.batch_alter_table("shipments") as batch:
        for name, kind in _SHIPMENT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    # Parcels already travelling were all bought from the sandbox, the only carrier before this revision.
    op.execute("UPDATE shipments SET carrier = 'sandbox' WHERE carrier IS NULL")
    op.execute(
        "UPDATE shipments SET shipped_at = last_event_at WHERE carrier_status NOT IN ('label_created', 'pre_transit')"
    )
    op.create_table(
        "parcel_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("return_id", "event_key", name="uq_parcel_events_key"),
    )
    op.create_table(
        "carrier_events",
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("carrier", "event_id"),
    )
    op.create_index("ix_carrier_events_unapplied", "carrier_events", ["applied_at", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_carrier_events_unapplied", table_name="carrier_events")
    op.drop_table("carrier_events")
    op.drop_table("parcel_events")
    with op.batch_alter_table("shipments") as batch:
        for name, _ in reversed(_SHIPMENT_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("labels") as batch:
        batch.drop_index("ix_labels_void_pending")
        for name, _ in reversed(_LABEL_COLUMNS):
            batch.drop_column(name)
