"""RMA numbers: `PREFIX-XXXXXXXXC`, eight serial characters and one check character.

- The alphabet is Crockford's base-32 without `Z` (31 symbols: no I, L, O, U, Z), so nothing reads as another letter.
- The serial is a per-prefix counter scrambled by a fixed bijection, so numbers are unique whenever counters are,
  yet do not reveal volumes or invite guessing the next customer's number.
- The check character makes the weighted sum of all nine characters divisible by 31 with weights 2^i (mod 31).
  31 is prime and every weight and every difference of neighbouring weights is non-zero mod 31, so every
  single-character substitution and every transposition of two adjacent characters changes the sum: both are caught.
- The prefix is the seller's, validated against configuration rather than by the check character.
"""

from __future__ import annotations

import re
from typing import Final

from rma.domain.errors import InvalidRmaNumberError

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXY"
BASE: Final = len(ALPHABET)  # 31, a prime
SERIAL_LENGTH: Final = 8
SERIAL_SPACE: Final = BASE**SERIAL_LENGTH
# Multiplier coprime to 31^8 (not a multiple of 31) and an offset: x -> (a*x + b) mod 31^8 is a bijection.
_MULTIPLIER: Final = 527_115_649_797  # ~ golden ratio x 31^8, not a multiple of 31
_OFFSET: Final = 97_654_321
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Readers confuse these; accept them on input, as Crockford's base-32 does.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
PREFIX_PATTERN: Final = re.compile(r"^[A-Z][A-Z0-9]{1,5}$")


def _check_char(serial: str) -> str:
    # Position 0 is the check character (weight 1); the serial's last character has weight 2, and so on leftwards.
    total = sum(_VALUE[ch] * pow(2, i + 1, BASE) for i, ch in enumerate(reversed(serial)))
    return ALPHABET[(-total) % BASE]


def _checksum_ok(body: str) -> bool:
    total = sum(_VALUE[ch] * pow(2, i, BASE) for i, ch in enumerate(reversed(body)))
    return total % BASE == 0


def _encode(n: int) -> str:
    chars = []
    for _ in range(SERIAL_LENGTH):
        n, r = divmod(n, BASE)
        chars.append(ALPHABET[r])
    return "".join(reversed(chars))


def validate_prefix(prefix: str) -> str:
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise InvalidRmaNumberError(
            f"RMA prefix {prefix!r} must be 2 to 6 upper-case letters or digits starting with a letter"
        )
    return prefix


def format_rma_number(prefix: str, counter: int) -> str:
    """The RMA number for the `counter`-th issuance (counter >= 1) under `prefix`."""
    validate_prefix(prefix)
    if not 1 <= counter < SERIAL_SPACE:
        raise InvalidRmaNumberError(f"RMA counter {counter} is outside 1..{SERIAL_SPACE - 1}")
    serial = _encode((_MULTIPLIER * counter + _OFFSET) % SERIAL_SPACE)
    return f"{prefix}-{serial}{_check_char(serial)}"


def parse_rma_number(text: str, *, prefixes: frozenset[str] | None = None) -> str:
    """Normalise what a person typed and return the canonical RMA number, or raise saying what is wrong."""
    cleaned = text.strip().upper().replace(" ", "")
    prefix, sep, body = cleaned.rpartition("-")
    if not sep or not prefix:
        raise InvalidRmaNumberError(f"{text!r} is not an RMA number (expected PREFIX-XXXXXXXXC)")
    validate_prefix(prefix)
    if prefixes is not None and prefix not in prefixes:
        raise InvalidRmaNumberError(f"{text!r} has an unknown prefix {prefix!r}")
    body = body.translate(_READ_AS)
    if len(body) != SERIAL_LENGTH + 1 or any(ch not in _VALUE for ch in body):
        raise InvalidRmaNumberError(f"{text!r} must end in {SERIAL_LENGTH + 1} characters from {ALPHABET}")
    if not _checksum_ok(body):
        raise InvalidRmaNumberError(f"{text!r} fails its check character: a character is mistyped or swapped")
    return f"{prefix}-{body}"


def looks_like_rma_number(text: str) -> bool:
    try:
        parse_rma_number(text)
    except InvalidRmaNumberError:
        return False
    return True
