"""The one base class of every task: log context, retries for transient errors only, dead-lettering the rest.

Tasks are thin: they parse ids, call one service with the stage context, and return. Whatever fails permanently
(bad arguments, a return that cannot move, retries exhausted) is recorded in the dead-letter table with its cause,
and the return is parked in needs_attention, visible in the API; the message is then acknowledged, so poison never
blocks a queue.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

import psycopg
import structlog
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as KombuOperationalError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError

from rma.domain.errors import ConcurrentUpdateError
from rma.domain.text import escape_unstorable, fit, storable
from rma.domain.validation import field_errors
from rma.logging import error_summary, get_logger
from rma.ports.providers import ProviderError
from rma.ports.stores import DeadLetter
from rma.services import dead_letters
from rma.services.context import StageContext
from rma.worker.runtime import runtime_for

log = get_logger(__name__)

MAX_BACKOFF_SECONDS = 60.0


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: timeouts, lost connections, 429/5xx from providers, optimistic-lock conflicts."""
    if isinstance(exc, ProviderError):
        return exc.transient
    if isinstance(exc, DBAPIError):
        return isinstance(exc, OperationalError) or exc.connection_invalidated
    return isinstance(
        exc,
        ConcurrentUpdateError
        | SoftTimeLimitExceeded
        | ConnectionError
        | TimeoutError
        | psycopg.OperationalError
        | KombuOperationalError,
    )


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with full jitter, capped: 1, 2, 4 ... 60 s, each scaled by a random factor in [0.5, 1.5)."""
    return min(MAX_BACKOFF_SECONDS, 2.0**retries) * (0.5 + random.random())  # noqa: S311 - jitter, not security


def parse_return_id(value: object) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError(f"return_id must be a UUID string, not {type(value).__name__}")
    return uuid.UUID(value)


class RmaTask(Task[Any, Any]):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 8
    typing = False  # argument errors are checked by the task itself and dead-lettered with their cause
    stage: ClassVar[str] = "unknown"

    @property
    def ctx(self) -> StageContext:
        return runtime_for(self.app).ctx

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - Celery's own signature
        structlog.contextvars.bind_contextvars(
            task_id=self.request.id, task_name=self.name, stage=self.stage, return_id=kwargs.get("return_id")
        )
        try:
            return super().__call__(*args, **kwargs)
        except Retry:
            raise
        except Exception as exc:
            retries = self.request.retries or 0
            if is_transient(exc) and retries < self.max_retries:
                countdown = backoff_seconds(retries)
                if isinstance(exc, ProviderError) and exc.retry_after is not None:
                    countdown = max(countdown, exc.retry_after)  # the provider said when it will take us again
                log.warning("task_retry", error=loggable(exc), retry=retries + 1, countdown=countdown)
                raise self.retry(exc=exc, countdown=countdown) from exc
            self.give_up(exc, kwargs, exhausted=is_transient(exc))
            return None
        finally:
            structlog.contextvars.unbind_contextvars("task_id", "task_name", "stage", "return_id", "rma_number")

    def run_batch(self, return_ids: object, step: Callable[[StageContext, list[uuid.UUID]], object]) -> int:
        """Run a batch step on the ids of a batch message; answers how many ids it took.

        The batch runs as one piece; if a return spoils it (a permanent failure, or a conflict with another writer),
        it runs again one return at a time, so only the failing return is dead-lettered and parked. A transient
        failure retries the message; the returns already moved on are skipped then, as every step is idempotent."""
        if not isinstance(return_ids, list):
            raise TypeError("return_ids must be a list of UUID strings")
        ids: list[uuid.UUID] = []
        for raw in return_ids:
            try:
                ids.append(parse_return_id(raw))
            except (TypeError, ValueError) as exc:
                self.give_up(exc, {"return_id": raw}, exhausted=False)
        if not ids:
            return 0
        try:
            step(self.ctx, ids)
        except Exception as exc:
            if is_transient(exc) and not isinstance(exc, ConcurrentUpdateError):
                raise
            log.info("batch_split", error=loggable(exc), size=len(ids))
            self._one_at_a_time(ids, step)
        return len(ids)

    def _one_at_a_time(self, ids: list[uuid.UUID], step: Callable[[StageContext, list[uuid.UUID]], object]) -> None:
        transient: Exception | None = None
        for return_id in ids:
            try:
                step(self.ctx, [return_id])
            except Exception as exc:  # noqa: BLE001 - each failure is dead-lettered or retried, never dropped
                if not is_transient(exc):
                    self.give_up(exc, {"return_id": str(return_id)}, exhausted=False)
                elif transient is None:
                    transient = exc
        if transient is not None:
            raise transient

    def give_up(self, exc: BaseException, kwargs: Mapping[str, Any], *, exhausted: bool) -> None:
        """Dead-letter the message (or one item of a batch) with its cause and park its return."""
        cause = escape_unstorable(f"{'retries exhausted: ' if exhausted else ''}{describe(exc)}")[:2000]
        return_id = _maybe_uuid(kwargs.get("return_id"))
        delivery = self.request.delivery_info or {}
        letter = DeadLetter(
            cause=cause,
            queue=fit(delivery.get("routing_key"), 64),
            task_name=self.name,
            task_id=fit(self.request.id, 64),
            return_id=return_id,
            # A NUL or a lone surrogate would fail the INSERT and lose the letter: written as \\u0000 instead.
            kwargs=cast("dict[str, Any]", storable(dict(kwargs))),
        )
        letter_id = dead_letters.record(self.ctx, letter, park=f"{self.name} failed: {cause}")
        # The letter holds the whole cause for an operator (`rma dlq list`); the log line only what cannot quote input.
        logged = f"{'retries exhausted: ' if exhausted else ''}{loggable(exc)}"
        log.error("task_dead_lettered", dead_letter_id=letter_id, cause=logged, return_id=kwargs.get("return_id"))


def describe(exc: BaseException) -> str:
    """The cause in words, without echoing input values (a bad request may carry personal data).

    A database error's text quotes the statement's parameters: only its classes and SQLSTATE are told."""
    if isinstance(exc, ValidationError):
        return "invalid message: " + "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
    if isinstance(exc, StatementError | psycopg.Error):
        return error_summary(exc)
    return f"{exc.__class__.__name__}: {exc}"


def loggable(exc: BaseException) -> str:
    """The cause as a log line may carry it: `describe` for validation errors (fields and reasons) and provider
    errors (our adapters' words), `rma.logging.error_summary` for anything else, whose text may quote input."""
    if isinstance(exc, ValidationError | ProviderError):
        return describe(exc)
    return error_summary(exc)


def _maybe_uuid(value: object) -> uuid.UUID | None:
    try:
        return parse_return_id(value)
    except (TypeError, ValueError):
        return None
