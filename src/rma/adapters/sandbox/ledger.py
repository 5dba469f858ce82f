"""The sandbox carrier's records as the audit reads a carrier's: every label it sold, refunded or not."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rma.adapters.sandbox.tables import SandboxLabelRow
from rma.ports.providers import BoughtLabel


def sandbox_labels(session: Session) -> list[BoughtLabel]:
    stmt = select(SandboxLabelRow.rma_number, SandboxLabelRow.tracking_number, SandboxLabelRow.voided_at)
    return [BoughtLabel(rma, tracking, voided is not None) for rma, tracking, voided in session.execute(stmt)]
