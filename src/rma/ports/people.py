"""Stand-ins for people, for the sandbox and the embedded demo only: the composition root wires them in when their
settings ask for it, and nothing else of the system assumes they exist."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from rma.domain.inspection import Grade
from rma.domain.returns import ReturnAuthorization


class AutoInspector(Protocol):
    @property
    def name(self) -> str:
        """Recorded as the inspector of its grades."""

    def inspect_at(self, return_id: UUID, delivered_at: datetime) -> datetime:
        """When the stand-in gets to a delivered parcel (most within the inspection deadline, some late)."""

    def grade(self, ret: ReturnAuthorization) -> Grade:
        """Its grade for the item of a delivered return."""


class AutoReviewer(Protocol):
    @property
    def name(self) -> str:
        """Recorded as the reviewer of its decisions."""

    def approves(self, return_id: UUID) -> bool:
        """Its decision on a return in manual review whose deadline has come."""
