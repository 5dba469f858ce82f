"""The sandbox carrier's records as a carrier ledger, for the audit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.sandbox.tables import SandboxLabelRow
from rma.ports.providers import BoughtLabel


def sandbox_labels(session: Session) -> list[BoughtLabel]:
    stmt = select(SandboxLabelRow.rma_number, SandboxLabelRow.tracking_number, SandboxLabelRow.voided_at)
    return [BoughtLabel(rma, tracking, voided is not None) for rma, tracking, voided in session.execute(stmt)]


class SandboxLedger:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def bought_labels(self) -> Sequence[BoughtLabel]:
        with self._sessions() as session:
            return sandbox_labels(session)

    def peak_requests_per_second(self) -> int | None:
        return None  # the sandbox is called in-process, without a quota
