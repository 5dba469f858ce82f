"""Loading policy files: the shipped default, TOML and JSON copies, and every problem named."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from rma.domain.errors import PolicyError
from rma.policies.loader import load_policy_book

DEFAULT = Path(__file__).parents[2] / "src" / "rma" / "policies" / "default.toml"


def test_shipped_default_policy_has_the_documented_rules() -> None:
    version = load_policy_book().versions[0]
    assert version.window.default_days == 30
    assert version.holiday_extension is not None
    assert (version.holiday_extension.season_start.month, version.holiday_extension.season_start.day) == (11, 1)
    assert (version.holiday_extension.returnable_until.month, version.holiday_extension.returnable_until.day) == (1, 31)
    assert version.restocking_fee.buyer_remorse_percent == 20
    assert version.label.deduct_for_buyer_fault is True
    assert version.returnless.max_unit_price["USD"] > 0
    assert version.authorization.review_above["USD"] > 0


def test_json_copy_loads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(tomllib.loads(DEFAULT.read_text()), default=str))
    assert load_policy_book(path) == load_policy_book(DEFAULT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("versions = [", "not valid TOML"),
        ("[[versions]]\nversion = '1'\n", "versions[0].effective_from: Field required"),
        (DEFAULT.read_text().replace("default_days = 30", "default_days = 0"), "versions[0].window.default_days"),
    ],
)
def test_invalid_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_policy_book(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy_book(tmp_path / "nope.toml")
