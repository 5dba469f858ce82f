"""Turn pydantic validation errors into (field, reason) pairs a person can read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from rma.domain.text import escape_unstorable


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    reason: str


def dotted_path(loc: tuple[int | str, ...]) -> str:
    """`("lines", 0, "unit_price")` -> `lines[0].unit_price`.

    An unknown key is named as sent, except NUL and lone surrogates, written `\\uXXXX`: the path is answered as
    JSON and stored with dead letters, where those cannot go."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = escape_unstorable(part)
            out += f".{name}" if out else name
    return out or "(request)"


def field_errors(exc: ValidationError) -> list[FieldError]:
    """One entry per problem: `lines[0].unit_price` / `Input should be a valid integer`."""
    errors = []
    for err in exc.errors(include_url=False):
        reason = err["msg"].removeprefix("Value error, ")
        errors.append(FieldError(field=dotted_path(tuple(err["loc"])), reason=reason))
    return errors
