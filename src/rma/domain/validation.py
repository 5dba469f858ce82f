"""Turn pydantic validation errors into (field, reason) pairs a person can read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    reason: str


def dotted_path(loc: tuple[int | str, ...]) -> str:
    """`("lines", 0, "unit_price")` -> `lines[0].unit_price`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(request)"


def field_errors(exc: ValidationError) -> list[FieldError]:
    """One entry per problem: `lines[0].unit_price` / `Input should be a valid integer`."""
    errors = []
    for err in exc.errors(include_url=False):
        reason = err["msg"].removeprefix("Value error, ")
        errors.append(FieldError(field=dotted_path(tuple(err["loc"])), reason=reason))
    return errors
