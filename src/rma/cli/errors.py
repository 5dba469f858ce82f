"""CLI failures: a clear message (and field errors) on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

from rma.domain.validation import FieldError

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class CliError(Exception):
    def __init__(self, message: str, *, fields: list[FieldError] | None = None, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or []
        self.code = code


def fail(error: CliError) -> NoReturn:
    payload: dict[str, object] = {"error": error.message}
    if error.fields:
        payload["fields"] = [f.model_dump() for f in error.fields]
    sys.stderr.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    raise SystemExit(error.code)
