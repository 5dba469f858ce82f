"""Reading and validating JSON input files for CLI commands."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from rma.cli.errors import CliError
from rma.domain.validation import field_errors

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_model(path: Path, model: type[ModelT], what: str) -> ModelT:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {what} file {path}: {exc}") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        errors = field_errors(exc)
        if len(errors) == 1 and errors[0].reason.startswith("Invalid JSON"):
            raise CliError(f"{what} file {path} is not valid JSON: {errors[0].reason}") from None
        raise CliError(f"{what} file {path} is invalid", fields=errors) from None


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{option} must be a date as YYYY-MM-DD, not {text!r}") from None
