"""Every error the API answers is JSON: `{"error": ..., "fields": [...]}`, so clients need one parser.

The database being unreachable is a 503 with `Retry-After`, never a 500: the request was refused whole (services commit
in one transaction), so the client may send it again unchanged and intake's idempotency key absorbs any repeat.

A body that cannot be parsed at all (not JSON, not UTF-8, nested too deeply, empty, not sent as JSON) is a 422 like
any other bad input, with the field `(request)` and the reason. A bug is a 500 in the same JSON shape, logged by
`UnhandledErrors` with its class and a traceback without messages or locals (`rma.logging.safe_traceback`): never
the driver's text, which quotes the SQL parameters, i.e. personal data.
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rma.api.schemas import ErrorBody
from rma.domain.validation import FieldError, dotted_path
from rma.logging import error_summary, get_logger
from rma.services.group_intake import IntakeClosedError

log = get_logger(__name__)

RETRY_AFTER_SECONDS: Final = 5
DATABASE_UNAVAILABLE: Final = "database unavailable, retry later"
INTERNAL_ERROR: Final = "internal error"

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


def _unparsable(exc: HTTPException) -> FieldError | None:
    """FastAPI's 400 "There was an error parsing the body" (raised from the decoding error): the reason in words."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, UnicodeDecodeError):
        reason = "malformed JSON: the body is not UTF-8 text"
    elif isinstance(cause, RecursionError):
        reason = "malformed JSON: nested too deeply"
    else:
        reason = "malformed JSON: cannot be parsed"
    return FieldError(field="(request)", reason=reason)


class UnhandledErrors:
    """The outermost middleware: a bug anywhere below answers 500 in the JSON error shape and is logged safely.

    Starlette's own last resort answers plain text and re-raises for the server to log, and uvicorn logs the
    exception's text, which for a database error quotes the statement's parameters. Here the exception stops: it is
    logged as `error_summary` describes it, with a traceback of frames only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # the last resort: answer and log, never let the text escape
            log.exception(
                "unhandled_error",
                method=scope.get("method"),
                path=scope.get("path"),
                error=error_summary(exc),
            )
            if not started:
                await error_response(500, INTERNAL_ERROR)(scope, receive, send)


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
        if (unparsable := _unparsable(exc)) is not None:
            return error_response(422, "malformed JSON", fields=[unparsable])
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
    app.add_middleware(UnhandledErrors)  # added last, so outermost: it sees what every other layer lets through
