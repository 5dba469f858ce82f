"""Every error the API answers is JSON: `{"error": ..., "fields": [...]}`, so clients need one parser.

The database being unreachable is a 503 with `Retry-After`, never a 500: the request was refused whole (services commit
in one transaction), so the client may send it again unchanged and intake's idempotency key absorbs any repeat.
"""

from __future__ import annotations

from typing import Final

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from rma.api.schemas import ErrorBody
from rma.domain.validation import FieldError, dotted_path
from rma.logging import get_logger
from rma.services.group_intake import IntakeClosedError

log = get_logger(__name__)

RETRY_AFTER_SECONDS: Final = 5
DATABASE_UNAVAILABLE: Final = "database unavailable, retry later"

# Documented on every /v1 route in the OpenAPI schema.
COMMON_ERRORS: Final[dict[int | str, dict[str, object]]] = {
    401: {"model": ErrorBody, "description": "missing or invalid X-API-Key"},
    422: {"model": ErrorBody, "description": "invalid request: `fields` names each field and the reason"},
    503: {
        "model": ErrorBody,
        "description": "database unavailable or server shutting down: nothing was stored, retry after `Retry-After`",
    },
}


class ApiError(Exception):
    """An answer other than success, raised from a route: the handler turns it into the JSON error body."""

    def __init__(
        self, status_code: int, message: str, *, fields: list[FieldError] | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fields = fields
        self.retry_after = retry_after


def error_response(
    status_code: int, message: str, *, fields: list[FieldError] | None = None, retry_after: int | None = None
) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = ErrorBody(error=message, fields=fields)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status_code, headers=headers)


def is_unavailable(exc: BaseException) -> bool:
    """A lost or refused database connection (worth retrying), as opposed to a bug such as a constraint violation."""
    if isinstance(exc, OperationalError | PoolTimeoutError | psycopg.OperationalError):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc.orig, psycopg.OperationalError)
    )


def dotted(loc: tuple[int | str, ...]) -> str:
    """FastAPI's error location in the dotted style of `rma.domain.validation.field_errors` (`lines[0].sku`)."""
    return dotted_path(loc[1:] if loc[:1] == ("body",) else loc)


def validation_fields(exc: RequestValidationError) -> tuple[str, list[FieldError]]:
    fields: list[FieldError] = []
    message = "invalid request"
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            # loc is ("body", character offset): name the offset, since there is no field yet.
            message = "malformed JSON"
            detail = err.get("ctx", {}).get("error", "cannot be parsed")
            offset = f" at character {loc[1]}" if len(loc) > 1 else ""
            fields.append(FieldError(field="(request)", reason=f"malformed JSON: {detail}{offset}"))
            continue
        field = dotted(loc)
        reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if field == "(request)" and (err.get("type") == "missing" or isinstance(err.get("input"), bytes)):
            # No body, or one sent without a JSON content type (FastAPI then hands over the raw bytes).
            reason = "a JSON request body is required (Content-Type: application/json)"
        fields.append(FieldError(field=field, reason=reason))
    return message, fields


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.message, fields=exc.fields, retry_after=exc.retry_after)

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        message, fields = validation_fields(exc)
        return error_response(422, message, fields=fields)

    @app.exception_handler(HTTPException)
    def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        # Unknown paths, wrong methods, oversized bodies: same JSON shape as our own errors.
        return error_response(exc.status_code, str(exc.detail))

    def _database(request: Request, exc: Exception) -> JSONResponse:
        if not is_unavailable(exc):
            raise exc  # a bug, not an outage: let the server log it as one (500)
        # The class names only: a driver message may quote the SQL parameters, i.e. personal data.
        orig = getattr(exc, "orig", None)
        log.warning(
            "database_unavailable",
            path=request.url.path,
            error=exc.__class__.__name__,
            driver_error=orig.__class__.__name__ if orig is not None else None,
        )
        return error_response(503, DATABASE_UNAVAILABLE, retry_after=RETRY_AFTER_SECONDS)

    @app.exception_handler(IntakeClosedError)
    def _closing(_request: Request, exc: IntakeClosedError) -> JSONResponse:
        return error_response(503, str(exc), retry_after=1)

    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(PoolTimeoutError, _database)
    app.add_exception_handler(psycopg.OperationalError, _database)
