"""Which characters a text field may hold: what the database can store, and what a person could have typed.

PostgreSQL refuses NUL (U+0000) in `text` and `\\u0000` in `jsonb`, and a lone surrogate (U+D800-U+DFFF) cannot be
encoded as UTF-8 at all: either would fail at the INSERT, stages after the request was accepted. Other control
characters (C0, DEL, C1) and the Unicode non-characters are stored fine but never typed by a customer: in a name or
an address they are an upstream encoding bug that would end up on a carrier label. So:

- single-line text (names, address lines, city, item name ...): no C0/C1 control character, DEL, line or paragraph
  separator (U+2028/U+2029), surrogate or non-character;
- free text (a line's comment, a reviewer's note): the same, except that tab, line feed and carriage return are kept.

The reasons name the code point and its position, never the text around it (it may be personal data).
"""

from __future__ import annotations

import re
from typing import Final

_NON_CHARACTERS: Final = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_ALWAYS_REFUSED: Final = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff" + _NON_CHARACTERS
_SINGLE_LINE: Final = re.compile(f"[{_ALWAYS_REFUSED}\t\n\r\u2028\u2029]")
_FREE_TEXT: Final = re.compile(f"[{_ALWAYS_REFUSED}]")
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")


def _describe(char: str) -> str:
    code = ord(char)
    if code <= 0x1F or 0x7F <= code <= 0x9F:
        kind = "a control character"
    elif 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate"
    elif code in (0x2028, 0x2029):
        kind = "a line break"
    else:
        kind = "a Unicode non-character"
    return f"U+{code:04X} ({kind})"


def refused_character(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` cannot be accepted (the first refused code point and its position), or None if it can."""
    found = (_FREE_TEXT if multiline else _SINGLE_LINE).search(value)
    if found is None:
        return None
    allowed = "; tab, line feed and carriage return are allowed" if multiline else ""
    return f"must not contain {_describe(found.group())} (at position {found.start()}){allowed}"


def escape_unstorable(value: str) -> str:
    """`value` with NUL and lone surrogates written as `\\uXXXX`: what cannot be stored or encoded, made visible."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def fit(value: object, limit: int) -> str | None:
    """A string from outside (a message header, a task id) as a column of `limit` characters can hold it, else None."""
    return escape_unstorable(value)[:limit] if isinstance(value, str) else None


def storable(value: object) -> object:
    """A JSON-like value with every string (keys included) passed through `escape_unstorable`."""
    if isinstance(value, str):
        return escape_unstorable(value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value
