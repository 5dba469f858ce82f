"""Return reason codes: an open set, normalised to a small canonical vocabulary.

Upstream systems send Amazon's `CR-*` and `AMZ-PG-*` forms, plain names, or codes of their own. Known codes map to a
canonical reason; an unknown code is kept as sent and handled by the policy's default rule, never refused.
Whose fault a reason is (seller or buyer) is policy data, not code: see `rma.domain.policy.model.FaultMatrix`.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Reason(StrEnum):
    DEFECTIVE = "DEFECTIVE"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    WRONG_ITEM_SENT = "WRONG_ITEM_SENT"
    DAMAGED_BY_CARRIER = "DAMAGED_BY_CARRIER"
    DAMAGED_BY_FULFILLMENT = "DAMAGED_BY_FULFILLMENT"
    MISSING_PARTS = "MISSING_PARTS"
    QUALITY_UNACCEPTABLE = "QUALITY_UNACCEPTABLE"
    ARRIVED_LATE = "ARRIVED_LATE"
    EXTRA_ITEM = "EXTRA_ITEM"
    NOT_COMPATIBLE = "NOT_COMPATIBLE"
    ORDERED_WRONG_ITEM = "ORDERED_WRONG_ITEM"
    UNWANTED_ITEM = "UNWANTED_ITEM"
    FOUND_BETTER_PRICE = "FOUND_BETTER_PRICE"
    NO_LONGER_NEEDED = "NO_LONGER_NEEDED"
    UNAUTHORIZED_PURCHASE = "UNAUTHORIZED_PURCHASE"
    TOO_SMALL = "TOO_SMALL"
    TOO_LARGE = "TOO_LARGE"
    STYLE_NOT_AS_EXPECTED = "STYLE_NOT_AS_EXPECTED"
    SWITCHEROO = "SWITCHEROO"
    NO_REASON_GIVEN = "NO_REASON_GIVEN"


# Aliases after normalisation (upper case, separators unified to "_", marketplace prefix removed).
_ALIASES: dict[str, Reason] = {
    "DEFECTIVE": Reason.DEFECTIVE,
    "ITEM_DEFECTIVE": Reason.DEFECTIVE,
    "DEFECTIVE_ITEM": Reason.DEFECTIVE,
    "DOES_NOT_WORK": Reason.DEFECTIVE,
    "NOT_AS_DESCRIBED": Reason.NOT_AS_DESCRIBED,
    "BAD_DESC": Reason.NOT_AS_DESCRIBED,
    "INACCURATE_WEBSITE_DESCRIPTION": Reason.NOT_AS_DESCRIBED,
    "WRONG_ITEM": Reason.WRONG_ITEM_SENT,
    "WRONG_ITEM_SENT": Reason.WRONG_ITEM_SENT,
    "INCORRECT_ITEM": Reason.WRONG_ITEM_SENT,
    "DAMAGED_BY_CARRIER": Reason.DAMAGED_BY_CARRIER,
    "DAMAGED_IN_TRANSIT": Reason.DAMAGED_BY_CARRIER,
    "DAMAGED_BY_FC": Reason.DAMAGED_BY_FULFILLMENT,
    "DAMAGED_BY_FULFILLMENT": Reason.DAMAGED_BY_FULFILLMENT,
    "MISSING_PARTS": Reason.MISSING_PARTS,
    "PARTS_MISSING": Reason.MISSING_PARTS,
    "QUALITY_UNACCEPTABLE": Reason.QUALITY_UNACCEPTABLE,
    "POOR_QUALITY": Reason.QUALITY_UNACCEPTABLE,
    "MISSED_ESTIMATED_DELIVERY": Reason.ARRIVED_LATE,
    "ARRIVED_LATE": Reason.ARRIVED_LATE,
    "DELIVERED_LATE": Reason.ARRIVED_LATE,
    "EXTRA_ITEM": Reason.EXTRA_ITEM,
    "NOT_COMPATIBLE": Reason.NOT_COMPATIBLE,
    "INCOMPATIBLE": Reason.NOT_COMPATIBLE,
    "ORDERED_WRONG_ITEM": Reason.ORDERED_WRONG_ITEM,
    "MISORDERED": Reason.ORDERED_WRONG_ITEM,
    "UNWANTED_ITEM": Reason.UNWANTED_ITEM,
    "UNWANTED": Reason.UNWANTED_ITEM,
    "CHANGED_MIND": Reason.UNWANTED_ITEM,
    "FOUND_BETTER_PRICE": Reason.FOUND_BETTER_PRICE,
    "BETTER_PRICE": Reason.FOUND_BETTER_PRICE,
    "NO_LONGER_NEEDED": Reason.NO_LONGER_NEEDED,
    "UNAUTHORIZED_PURCHASE": Reason.UNAUTHORIZED_PURCHASE,
    "APP_TOO_SMALL": Reason.TOO_SMALL,
    "TOO_SMALL": Reason.TOO_SMALL,
    "APP_TOO_LARGE": Reason.TOO_LARGE,
    "TOO_LARGE": Reason.TOO_LARGE,
    "APP_STYLE": Reason.STYLE_NOT_AS_EXPECTED,
    "STYLE_NOT_AS_EXPECTED": Reason.STYLE_NOT_AS_EXPECTED,
    "SWITCHEROO": Reason.SWITCHEROO,
    "NO_REASON_GIVEN": Reason.NO_REASON_GIVEN,
    "NO_REASON": Reason.NO_REASON_GIVEN,
}

_PREFIXES = ("CR_", "AMZ_PG_")
_SEPARATORS = re.compile(r"[\s\-./]+")


class NormalisedReason(BaseModel):
    """What was sent and what it means. `canonical` is None for a code we do not know."""

    model_config = ConfigDict(frozen=True)

    raw: str
    canonical: Reason | None


def normalise_reason(code: str) -> NormalisedReason:
    """Map a reason code in any known spelling to its canonical reason; keep unknown codes as sent."""
    key = _SEPARATORS.sub("_", code.strip().upper()).strip("_")
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key.removeprefix(prefix)
            break
    return NormalisedReason(raw=code, canonical=_ALIASES.get(key))
