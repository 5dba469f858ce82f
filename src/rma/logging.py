"""structlog set-up: JSON lines when not on a terminal, readable console otherwise; stdlib logs go the same way.

Personal data never reaches a log line: events carry ids (RMA number, return id, task id), and as a second line of
defence `redact_personal_data` masks any key that names contact or address data, wherever it appears.

Nor does it reach a log line through an exception: a database error's message quotes the SQL parameters (a customer's
name, an address) and PostgreSQL's own detail quotes the offending value; any other exception's message may quote its
input. So exceptions are logged as `error_summary` describes them (the class; the message of our own domain errors
only; SQLSTATE for database errors), and tracebacks as `safe_traceback` renders them: the frames and source lines,
never a frame's locals or an exception's message.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any, Final, Literal

import structlog

from rma.domain.errors import DomainError

PERSONAL_KEYS: Final = frozenset(
    {
        "email",
        "phone",
        "contact",
        "return_from",
        "address",
        "line1",
        "line2",
        "postal_code",
        "name",
        "customer_name",
        "card",
        "card_number",
        "iban",
        "request",
        "payload",
    }
)
REDACTED: Final = "[redacted]"


def _redact(value: object) -> object:
    if isinstance(value, Mapping):
        return {k: REDACTED if str(k).lower() in PERSONAL_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_personal_data(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in PERSONAL_KEYS:
            event_dict[key] = REDACTED
        elif key in ("exc_info", "_record"):
            continue  # rendered by `format_exc_info_safely`; a record is not data
        else:
            event_dict[key] = _redact(event_dict[key])
    return event_dict


WITHHELD: Final = "message withheld: it may quote request data"


def error_summary(exc: BaseException) -> str:
    """The exception in words that cannot carry request content.

    `DataError (psycopg.errors.UntranslatableCharacter, SQLSTATE 22P05)`; `ConcurrentUpdateError: <its message>`
    (domain errors are written to name ids and rules, never personal data); `KeyError (message withheld ...)`."""
    name = exc.__class__.__name__
    if isinstance(exc, DomainError):
        return f"{name}: {exc}"
    if isinstance(exc, BaseExceptionGroup):
        return f"{name} of [{', '.join(error_summary(sub) for sub in exc.exceptions)}]"
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's exception
    driver = orig if isinstance(orig, BaseException) else exc
    sqlstate = getattr(driver, "sqlstate", None)
    details = [f"{type(driver).__module__}.{type(driver).__qualname__}"] if driver is not exc else []
    if isinstance(sqlstate, str):
        details.append(f"SQLSTATE {sqlstate}")
    details = details or [WITHHELD]
    return f"{name} ({', '.join(details)})"


def safe_traceback(exc: BaseException) -> str:
    """Like `traceback.format_exception`, without what could quote input: frames and source lines, no locals, and
    each exception (causes and contexts included) as `error_summary` gives it."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts: list[str] = []
    for position, item in enumerate(reversed(chain)):
        if position:
            parts.append("\nDuring the handling of the above exception, another exception occurred:\n\n")
        if item.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.StackSummary.extract(traceback.walk_tb(item.__traceback__)).format())
        parts.append(error_summary(item) + "\n")
    return "".join(parts).rstrip("\n")


def _exc_info(value: object) -> BaseException | None:
    if isinstance(value, BaseException):
        return value
    if isinstance(value, tuple | list) and len(value) == 3 and isinstance(value[1], BaseException):
        return value[1]
    return sys.exc_info()[1] if value else None


def format_exc_info_safely(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog's `format_exc_info`, through `safe_traceback`: the `exception` key never quotes a message."""
    exc = _exc_info(event_dict.pop("exc_info", None))
    if exc is not None:
        event_dict["exception"] = safe_traceback(exc)
    return event_dict


def withhold_foreign_exception_text(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Other libraries' log lines that put an exception's text in the message itself (Celery's "Task ... retry: %(exc)s"
    and "... raised unexpected: %(exc)s") are rendered again with that text withheld."""
    args = event_dict.pop("positional_args", None)
    record = event_dict.get("_record")
    if isinstance(args, Mapping) and "exc" in args and isinstance(record, logging.LogRecord):
        try:
            event_dict["event"] = str(record.msg) % {**args, "exc": f"[{WITHHELD}]"}
        except (TypeError, ValueError, KeyError):
            event_dict["event"] = str(record.msg)
    return event_dict


_configured = False


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of the call (test capture, Celery's redirection)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto", *, force: bool = False
) -> None:
    """Configure structlog and the stdlib root logger once per process (again only with `force`)."""
    global _configured  # noqa: PLW0603 - process-wide logging is configured exactly once
    if _configured and not force:
        return
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_personal_data,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _CurrentStderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[withhold_foreign_exception_text, *shared],
            pass_foreign_args=True,
            processors=[
                format_exc_info_safely,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic narrates every plugin it loads at INFO; its warnings still get through.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))  # one line per request is noise
    _configured = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
