"""Reason codes: every spelling upstream systems use maps to one canonical reason; unknown codes are kept."""

from __future__ import annotations

import pytest

from rma.domain.reasons import Reason, normalise_reason


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # Amazon CR-* codes
        ("CR-DEFECTIVE", Reason.DEFECTIVE),
        ("CR-UNWANTED_ITEM", Reason.UNWANTED_ITEM),
        ("CR-SWITCHEROO", Reason.SWITCHEROO),
        ("CR-MISSED_ESTIMATED_DELIVERY", Reason.ARRIVED_LATE),
        ("CR-DAMAGED_BY_FC", Reason.DAMAGED_BY_FULFILLMENT),
        ("CR-NO_REASON_GIVEN", Reason.NO_REASON_GIVEN),
        # Amazon AMZ-PG-* codes
        ("AMZ-PG-BAD-DESC", Reason.NOT_AS_DESCRIBED),
        ("AMZ-PG-MISORDERED", Reason.ORDERED_WRONG_ITEM),
        ("AMZ-PG-APP-TOO-SMALL", Reason.TOO_SMALL),
        ("AMZ-PG-APP-TOO-LARGE", Reason.TOO_LARGE),
        ("AMZ-PG-APP-STYLE", Reason.STYLE_NOT_AS_EXPECTED),
        ("AMZ_PG_BETTER_PRICE", Reason.FOUND_BETTER_PRICE),
        # plain names and aliases
        ("DEFECTIVE", Reason.DEFECTIVE),
        ("DOES_NOT_WORK", Reason.DEFECTIVE),
        ("WRONG_ITEM", Reason.WRONG_ITEM_SENT),
        ("DAMAGED_IN_TRANSIT", Reason.DAMAGED_BY_CARRIER),
        ("CHANGED_MIND", Reason.UNWANTED_ITEM),
        ("NO_REASON", Reason.NO_REASON_GIVEN),
        # lower case and mixed case
        ("cr-defective", Reason.DEFECTIVE),
        ("amz-pg-bad-desc", Reason.NOT_AS_DESCRIBED),
        ("Not_As_Described", Reason.NOT_AS_DESCRIBED),
        ("no longer needed", Reason.NO_LONGER_NEEDED),
        # spaces, hyphens, dots, slashes and stray separators
        ("  Item Defective  ", Reason.DEFECTIVE),
        ("wrong-item-sent", Reason.WRONG_ITEM_SENT),
        ("damaged - by - carrier", Reason.DAMAGED_BY_CARRIER),
        ("cr - missing parts", Reason.MISSING_PARTS),
        ("poor.quality", Reason.QUALITY_UNACCEPTABLE),
        ("arrived/late", Reason.ARRIVED_LATE),
        ("-TOO-SMALL-", Reason.TOO_SMALL),
        ("CR DEFECTIVE", Reason.DEFECTIVE),
    ],
)
def test_known_codes_normalise(code, expected):
    normalised = normalise_reason(code)

    assert normalised.canonical is expected
    assert normalised.raw == code


@pytest.mark.parametrize("reason", list(Reason))
def test_every_canonical_name_maps_to_itself_in_every_form(reason):
    plain = reason.value
    for code in (
        plain,
        plain.lower(),
        f"CR-{plain}",
        f"AMZ-PG-{plain}",
        plain.replace("_", "-"),
        plain.replace("_", " "),
    ):
        assert normalise_reason(code).canonical is reason, code


@pytest.mark.parametrize(
    "code",
    ["ACME-42", "cr-something-new", "AMZ-PG-UNKNOWN", "CR", "DEFECTIVEISH", "OTHER", "AMZ-DEFECTIVE"],
)
def test_unknown_codes_are_kept_raw_without_canonical(code):
    normalised = normalise_reason(code)

    assert normalised.canonical is None
    assert normalised.raw == code


def test_only_one_marketplace_prefix_is_removed():
    assert normalise_reason("CR-CR-DEFECTIVE").canonical is None


def test_normalised_reason_is_immutable():
    normalised = normalise_reason("DEFECTIVE")
    with pytest.raises(ValueError, match="frozen"):
        normalised.raw = "x"  # type: ignore[misc]
