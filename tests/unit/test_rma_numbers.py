"""RMA numbers: format, parsing and normalisation, uniqueness, and the check character's guarantees."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rma.domain.errors import InvalidRmaNumberError
from rma.domain.rma_numbers import (
    ALPHABET,
    BASE,
    SERIAL_LENGTH,
    SERIAL_SPACE,
    format_rma_number,
    looks_like_rma_number,
    parse_rma_number,
    validate_prefix,
)

FORMAT = re.compile(rf"^(?P<prefix>[A-Z][A-Z0-9]{{1,5}})-(?P<body>[{ALPHABET}]{{{SERIAL_LENGTH + 1}}})$")
counters = st.integers(min_value=1, max_value=SERIAL_SPACE - 1)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
prefixes = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_UPPER),
    st.text(alphabet=_UPPER + "0123456789", min_size=1, max_size=5),
)


def split(number: str) -> tuple[str, str]:
    prefix, _, body = number.rpartition("-")
    return prefix, body


def test_alphabet_has_31_unambiguous_symbols():
    assert BASE == len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("ILOUZ") & set(ALPHABET)


@pytest.mark.parametrize("counter", [1, 2, 31, 12_345, SERIAL_SPACE - 1])
def test_format_is_prefix_dash_eight_serial_and_one_check(counter):
    number = format_rma_number("RMA", counter)

    match = FORMAT.fullmatch(number)
    assert match is not None, number
    assert match["prefix"] == "RMA"
    assert len(match["body"]) == SERIAL_LENGTH + 1
    assert parse_rma_number(number) == number


def test_format_is_stable():
    # A change in the scrambling or the check character would re-issue numbers already given to customers.
    assert format_rma_number("RMA", 1) == "RMA-K5183BB0A"


def test_consecutive_counters_do_not_look_consecutive():
    first, second = (split(format_rma_number("RMA", n))[1] for n in (1, 2))
    assert sum(a != b for a, b in zip(first, second, strict=True)) >= 3


@pytest.mark.parametrize("counter", [0, -1, SERIAL_SPACE])
def test_counter_out_of_range_is_refused(counter):
    with pytest.raises(InvalidRmaNumberError, match="outside"):
        format_rma_number("RMA", counter)


@pytest.mark.parametrize("prefix", ["R", "RMAXXXX", "rma", "1RMA", "RM-A", "", "RMA "])
def test_bad_prefix_is_refused_when_formatting(prefix):
    with pytest.raises(InvalidRmaNumberError, match="prefix"):
        format_rma_number(prefix, 1)


@pytest.mark.parametrize("prefix", ["RM", "RMA", "ACME42", "X1"])
def test_good_prefixes(prefix):
    assert validate_prefix(prefix) == prefix
    assert parse_rma_number(format_rma_number(prefix, 7)).startswith(f"{prefix}-")


def test_parse_normalises_what_people_type():
    number = format_rma_number("RMA", 1)  # RMA-K5183BB0A
    assert parse_rma_number("rma-k5183bb0a") == number
    assert parse_rma_number("  RMA-K518 3BB0A  ") == number
    assert parse_rma_number("RMA-K5183BBOA") == number  # O read as 0


def test_parse_reads_i_and_l_as_one():
    number = next(n for n in (format_rma_number("RMA", c) for c in range(1, 1_000)) if "1" in split(n)[1])
    prefix, body = split(number)
    for look_alike in ("I", "L", "i", "l"):
        assert parse_rma_number(f"{prefix}-{body.replace('1', look_alike)}") == number


def test_look_alikes_are_not_translated_in_the_prefix():
    # "RMO" is a valid prefix of its own; it must not become "RM0".
    number = format_rma_number("RMO", 5)
    assert parse_rma_number(number) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "RMA",
        "K5183BB0A",
        "-K5183BB0A",
        "R-K5183BB0A",  # prefix too short
        "1RMA-K5183BB0A",  # prefix starts with a digit
        "RMAXXXX-K5183BB0A",  # prefix too long
        "RMA-K5183BB0",  # body too short
        "RMA-K5183BB0A0",  # body too long
        "RMA-K5183BBUA",  # U is not in the alphabet
        "RMA-K5183BBZA",  # nor is Z
        "RMA-K5183BB0#",
        "RMA-K5183BB0B",  # wrong check character
        "RMA-5K183BB0A",  # swapped
    ],
)
def test_malformed_numbers_are_refused(text):
    with pytest.raises(InvalidRmaNumberError):
        parse_rma_number(text)
    assert not looks_like_rma_number(text)


def test_unknown_prefix_is_refused_when_prefixes_are_given():
    number = format_rma_number("ACME", 3)
    assert parse_rma_number(number, prefixes=frozenset({"ACME", "RMA"})) == number
    with pytest.raises(InvalidRmaNumberError, match="unknown prefix 'ACME'"):
        parse_rma_number(number, prefixes=frozenset({"RMA"}))
    assert looks_like_rma_number(number)


def test_error_messages_say_what_is_wrong():
    with pytest.raises(InvalidRmaNumberError, match="expected PREFIX-XXXXXXXXC"):
        parse_rma_number("K5183BB0A")
    with pytest.raises(InvalidRmaNumberError, match="9 characters"):
        parse_rma_number("RMA-K518")
    with pytest.raises(InvalidRmaNumberError, match="check character"):
        parse_rma_number("RMA-K5183BB0B")


def test_first_100k_counters_give_distinct_numbers():
    numbers = {format_rma_number("RMA", n) for n in range(1, 100_001)}
    assert len(numbers) == 100_000


def test_exhaustive_substitutions_and_transpositions_over_a_thousand_numbers():
    for counter in range(1, 1_001):
        number = format_rma_number("RMA", counter)
        prefix, body = split(number)
        assert parse_rma_number(number) == number
        for i, original in enumerate(body):
            for other in ALPHABET:
                if other != original:
                    assert not looks_like_rma_number(f"{prefix}-{body[:i]}{other}{body[i + 1 :]}")
        for i in range(len(body) - 1):
            if body[i] != body[i + 1]:
                swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
                assert not looks_like_rma_number(f"{prefix}-{swapped}")


@settings(max_examples=300)
@given(prefix=prefixes, counter=counters)
def test_parse_round_trips(prefix, counter):
    number = format_rma_number(prefix, counter)
    assert FORMAT.fullmatch(number)
    assert parse_rma_number(number) == number
    assert parse_rma_number(number.lower()) == number
    assert parse_rma_number(number, prefixes=frozenset({prefix})) == number


@settings(max_examples=300)
@given(a=counters, b=counters)
def test_distinct_counters_give_distinct_numbers(a, b):
    assert (format_rma_number("RMA", a) == format_rma_number("RMA", b)) == (a == b)


@settings(max_examples=500)
@given(counter=counters, position=st.integers(0, SERIAL_LENGTH), replacement=st.sampled_from(ALPHABET))
def test_any_single_substitution_is_caught(counter, position, replacement):
    prefix, body = split(format_rma_number("RMA", counter))
    if body[position] == replacement:
        replacement = ALPHABET[(ALPHABET.index(replacement) + 1) % BASE]
    mistyped = f"{prefix}-{body[:position]}{replacement}{body[position + 1 :]}"

    with pytest.raises(InvalidRmaNumberError, match="check character"):
        parse_rma_number(mistyped)


@settings(max_examples=500)
@given(counter=counters, position=st.integers(0, SERIAL_LENGTH - 1))
def test_any_adjacent_transposition_is_caught(counter, position):
    prefix, body = split(format_rma_number("RMA", counter))
    chars = list(body)
    if chars[position] == chars[position + 1]:
        # Find another pair of different neighbours in this body; swapping equal ones changes nothing.
        different = [i for i in range(SERIAL_LENGTH) if chars[i] != chars[i + 1]]
        position = different[position % len(different)]
    chars[position], chars[position + 1] = chars[position + 1], chars[position]

    with pytest.raises(InvalidRmaNumberError, match="check character"):
        parse_rma_number(f"{prefix}-{''.join(chars)}")
