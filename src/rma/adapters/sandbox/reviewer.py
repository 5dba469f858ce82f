"""A sandbox stand-in for the review team: approves four reviews in five when their deadline comes.

Only the composition root wires it in (RMA_AUTO_REVIEW, the embedded demo)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SandboxReviewer:
    name: str = "auto-reviewer"

    def approves(self, return_id: uuid.UUID) -> bool:
        return return_id.int % 5 != 0
