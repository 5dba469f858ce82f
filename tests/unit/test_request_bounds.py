"""Bad input that would get through the schema and fail later: characters the database cannot store (or a person
cannot have typed), dates no real order has, and a different request under an idempotency key already used."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rma.domain.errors import IdempotencyKeyReusedError, KeyReuse
from rma.domain.requests import (
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_ORDER_AGE,
    STORED,
    ReturnRequest,
    date_problems,
)
from rma.domain.text import escape_unstorable, refused_character, storable
from rma.domain.validation import FieldError, dotted_path, field_errors

MARKER = "ZZMARKERZZ"

# Every code point refused everywhere: C0 (but tab, LF, CR), DEL, C1, surrogates, non-characters.
ALWAYS_REFUSED = [
    *(chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)),
    *(chr(c) for c in range(0x7F, 0xA0)),
    *(chr(c) for c in range(0xD800, 0xE000)),
    *(chr(c) for c in range(0xFDD0, 0xFDF0)),
    *(chr(plane * 0x10000 + low) for plane in range(17) for low in (0xFFFE, 0xFFFF)),
]
LINE_BREAKS = ["\t", "\n", "\r", "\u2028", "\u2029"]


def errors_of(data: dict[str, object]) -> list[FieldError]:
    with pytest.raises(ValidationError) as info:
        ReturnRequest.model_validate(data)
    return field_errors(info.value)


# --- characters ------------------------------------------------------------------------------------------------------


def test_every_refused_code_point_is_refused_in_single_line_and_free_text() -> None:
    assert len(ALWAYS_REFUSED) == 29 + 33 + 2048 + 32 + 34
    for char in ALWAYS_REFUSED:
        for multiline in (False, True):
            reason = refused_character(f"ab{char}cd", multiline=multiline)
            assert reason is not None, f"U+{ord(char):04X}"
            assert f"U+{ord(char):04X}" in reason
            assert "position 2" in reason


@pytest.mark.parametrize("char", LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_line_breaks_are_refused_on_one_line_only(char: str) -> None:
    assert refused_character(f"a{char}b") is not None
    assert refused_character(f"a{char}b", multiline=True) is None


def test_ordinary_text_of_every_script_is_accepted() -> None:
    for text in [
        "Jordan Example",
        "Zoë Ångström",
        "Łódź ul. Piotrkowska 3/5",
        "東京都千代田区",
        "שלום",
        "🙂 emoji",
        "\u00a0",
    ]:
        assert refused_character(text) is None
        assert refused_character(text, multiline=True) is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("contact", "name"), f"{MARKER}\x00"),
        (("return_from", "line1"), f"{MARKER}\x07"),
        (("return_from", "line2"), f"{MARKER}\n2nd floor"),
        (("return_from", "city"), f"{MARKER}\x85"),
        (("return_from", "region"), f"{MARKER}\ufffe"),
        (("return_from", "postal_code"), "627\x0001"),
        (("lines", 0, "item_name"), f"{MARKER}\u2028"),
        (("lines", 0, "comment"), f"{MARKER}\x00"),
        (("lines", 0, "comment"), f"{MARKER}\x1b[31m"),
    ],
)
def test_refused_characters_are_named_by_field_never_by_value(
    request_data: object, path: tuple[str | int, ...], value: str
) -> None:
    data = request_data()  # type: ignore[operator]
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    errors = errors_of(data)

    assert [e.field for e in errors] == [dotted_path(path)]
    assert "must not contain U+" in errors[0].reason
    assert MARKER not in errors[0].reason


def test_a_lone_surrogate_is_refused_by_pydantic_itself(request_data: object) -> None:
    data = request_data()  # type: ignore[operator]
    data["return_from"]["name"] = f"{MARKER}\ud800"
    errors = errors_of(data)
    assert [e.field for e in errors] == ["return_from.name"]
    assert "unable to parse raw data as a unicode string" in errors[0].reason


def test_a_comment_keeps_its_line_breaks_and_tabs(make_line: object) -> None:
    comment = "Arrived broken.\r\n\tThe lid\nis cracked."
    assert make_line(comment=comment).comment == comment  # type: ignore[operator]


def test_unknown_keys_are_named_with_unstorable_characters_escaped() -> None:
    assert dotted_path(("lines", 0, "a\x00b")) == "lines[0].a\\u0000b"
    assert dotted_path(("\ud800",)) == "\\ud800"
    assert dotted_path(("ordinary", 1, "name")) == "ordinary[1].name"


def test_storable_escapes_nul_and_surrogates_in_keys_and_values_only() -> None:
    assert escape_unstorable("a\x00b\ud800c\x01é") == "a\\u0000b\\ud800c\x01é"
    assert storable({"k\x00": ["v\x00", 1, None, {"x": "\udfff"}]}) == {
        "k\\u0000": ["v\\u0000", 1, None, {"x": "\\udfff"}]
    }


NASTY = st.text(alphabet=st.one_of(st.sampled_from(ALWAYS_REFUSED + LINE_BREAKS), st.characters(exclude_categories=())))


@given(NASTY)
@settings(max_examples=200)
def test_escaped_text_always_encodes_as_utf8_without_nul(text: str) -> None:
    escaped = escape_unstorable(text)
    assert "\x00" not in escaped
    escaped.encode("utf-8")  # raises on a lone surrogate


def test_a_stored_request_stays_readable_under_the_stricter_schema(request_data: object) -> None:
    """What an older schema accepted (a C1 control in a comment, a date out of bounds) still loads from the database."""
    data = request_data(lines=[{"comment": "old\x85text"}], order_date="1999-12-31", delivery_date=None)  # type: ignore[operator]
    assert {e.field for e in errors_of(data)} == {"lines[0].comment", "order_date"}
    loaded = ReturnRequest.model_validate(data, context=STORED)
    assert loaded.order_date == date(1999, 12, 31)


# --- dates -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_date", "0001-01-01"),
        ("order_date", "1999-12-31"),
        ("order_date", "3000-01-01"),
        ("order_date", "9999-12-31"),
        ("delivery_date", "9999-12-31"),
    ],
)
def test_dates_centuries_away_are_refused_by_the_schema(request_data: object, field: str, value: str) -> None:
    extra = {"delivery_date": None} if field == "order_date" else {}
    errors = errors_of(request_data(**{field: value, **extra}))  # type: ignore[operator]
    assert [e.field for e in errors] == [field]
    assert "not a plausible date" in errors[0].reason
    assert str(EARLIEST_DATE) in errors[0].reason
    assert str(LATEST_DATE) in errors[0].reason


def test_the_absolute_bounds_themselves_are_accepted(make_request: object) -> None:
    assert make_request(order_date=EARLIEST_DATE, delivery_date=None).order_date == EARLIEST_DATE  # type: ignore[operator]
    assert make_request(order_date=LATEST_DATE, delivery_date=LATEST_DATE).delivery_date == LATEST_DATE  # type: ignore[operator]


TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("order", "delivery", "problems"),
    [
        (TODAY - timedelta(days=10), TODAY - timedelta(days=3), []),
        (TODAY, TODAY, []),
        (TODAY + timedelta(days=1), TODAY + timedelta(days=1), []),  # a day of clock skew
        (TODAY + timedelta(days=2), None, ["order_date"]),
        (TODAY + timedelta(weeks=3), TODAY + timedelta(weeks=4), ["order_date", "delivery_date"]),
        (TODAY - timedelta(days=5), TODAY + timedelta(days=14), ["delivery_date"]),
        (TODAY - MAX_ORDER_AGE, None, []),
        (TODAY - MAX_ORDER_AGE - timedelta(days=1), None, ["order_date"]),
        (date(2000, 1, 1), None, ["order_date"]),
    ],
)
def test_dates_are_checked_against_today(
    make_request: object, order: date, delivery: date | None, problems: list[str]
) -> None:
    request = make_request(order_date=order, delivery_date=delivery)  # type: ignore[operator]
    found = date_problems(request, today=TODAY)
    assert [p.field for p in found] == problems
    assert all(str(TODAY) in p.reason or "three years" in p.reason for p in found)


# --- the same request, or a different one --------------------------------------------------------------------------


def test_a_request_spelt_differently_is_the_same_request(request_data: object) -> None:
    first = ReturnRequest.model_validate(request_data())  # type: ignore[operator]
    data = request_data()  # type: ignore[operator]
    data["lines"][0]["category"] = "  HOME "  # normalised to "home"
    data["currency"] = "usd"
    data.pop("shipping_paid")  # the default, 0
    again = ReturnRequest.model_validate(dict(reversed(list(data.items()))))
    assert first.differences(again) == ()


def test_differences_name_the_top_level_fields_only(request_data: object) -> None:
    first = ReturnRequest.model_validate(request_data())  # type: ignore[operator]
    data = request_data(order_date="2026-09-02")  # type: ignore[operator]
    data["contact"]["name"] = MARKER
    other = ReturnRequest.model_validate(data)
    assert first.differences(other) == ("order_date", "contact")


def test_key_reuse_error_names_the_key_and_the_fields_never_the_values() -> None:
    error = IdempotencyKeyReusedError([KeyReuse(3, "amazon", "req-1", ("contact", "lines"))])
    assert "'req-1'" in str(error)
    assert "'amazon'" in str(error)
    assert "differing in: contact, lines" in str(error)
    assert error.reuses[0].index == 3
