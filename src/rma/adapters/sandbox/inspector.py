"""A sandbox stand-in for the warehouse: grades delivered returns with a realistic mix, most on time, some late.

Only the composition root wires it in (RMA_AUTO_INSPECT, the embedded demo); without it a grade comes from a person."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from rma.domain.inspection import Grade
from rma.domain.requests import Condition
from rma.domain.returns import ReturnAuthorization

NOT_REFUNDABLE_SHARE = 0.04  # of auto-inspected items, graded not refundable


def _draw(return_id: uuid.UUID, salt: str) -> float:
    return int.from_bytes(hashlib.sha256(f"{salt}:{return_id}".encode()).digest()[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class SandboxInspector:
    name: str = "auto-inspector"
    # How long after delivery it gets to a parcel (most within the two business days' deadline, some late).
    after: tuple[timedelta, timedelta] = (timedelta(hours=2), timedelta(days=3))

    def inspect_at(self, return_id: uuid.UUID, delivered_at: datetime) -> datetime:
        low, high = self.after
        return delivered_at + low + (high - low) * _draw(return_id, "delay")

    def grade(self, ret: ReturnAuthorization) -> Grade:
        """A realistic mix, leaning on what the customer reported: most items as described, a few not."""
        return auto_grade(ret)


def auto_grade(ret: ReturnAuthorization) -> Grade:
    draw = _draw(ret.id, "grade")
    worst = max((line.condition for line in ret.request.lines), key=list(Condition).index)
    if draw < NOT_REFUNDABLE_SHARE:
        return Grade.NOT_REFUNDABLE
    if worst in {Condition.USED, Condition.DAMAGED} and draw < 0.30:
        return Grade.DAMAGED_BY_CUSTOMER
    if draw < 0.15:
        return Grade.OPENED
    return Grade.AS_DESCRIBED
