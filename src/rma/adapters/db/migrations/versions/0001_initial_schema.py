"""Initial schema: returns, their lines, the append-only timeline and the RMA number counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# PostgreSQL enforces what the code promises: timeline rows are never changed or removed, except when their
# return is deleted as a whole (ON DELETE CASCADE runs with pg_trigger_depth() > 0).
_TIMELINE_GUARD = """
CREATE FUNCTION return_timeline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'return_timeline is append-only (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER return_timeline_append_only BEFORE UPDATE OR DELETE ON return_timeline
  FOR EACH ROW EXECUTE FUNCTION return_timeline_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "returns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("upstream_request_id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("rma_number", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attention_cause", sa.String(length=500), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=True),
        sa.Column("request", _JSON, nullable=False),
        sa.Column("decision", _JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rma_number"),
    )
    op.create_index("ix_returns_channel_order", "returns", ["channel", "order_id"])
    op.create_index("ix_returns_customer", "returns", ["customer_id"])
    op.create_index("ix_returns_status_due", "returns", ["status", "status_due_at"])
    op.create_index("uq_returns_channel_upstream", "returns", ["channel", "upstream_request_id"], unique=True)
    op.create_table(
        "rma_counters",
        sa.Column("prefix", sa.String(length=6), nullable=False),
        sa.Column("last_value", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    op.create_table(
        "return_lines",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.String(length=128), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_return_lines_sku", "return_lines", ["sku"])
    op.create_index("uq_return_lines_position", "return_lines", ["return_id", "position"], unique=True)
    op.create_table(
        "return_timeline",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=500), nullable=False),
        sa.Column("line_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_return_timeline_seq", "return_timeline", ["return_id", "seq"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_TIMELINE_GUARD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS return_timeline_append_only ON return_timeline")
        op.execute("DROP FUNCTION IF EXISTS return_timeline_append_only()")
    op.drop_index("uq_return_timeline_seq", table_name="return_timeline")
    op.drop_table("return_timeline")
    op.drop_index("uq_return_lines_position", table_name="return_lines")
    op.drop_index("ix_return_lines_sku", table_name="return_lines")
    op.drop_table("return_lines")
    op.drop_table("rma_counters")
    op.drop_index("uq_returns_channel_upstream", table_name="returns")
    op.drop_index("ix_returns_status_due", table_name="returns")
    op.drop_index("ix_returns_customer", table_name="returns")
    op.drop_index("ix_returns_channel_order", table_name="returns")
    op.drop_table("returns")
