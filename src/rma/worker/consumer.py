"""A Celery consumer that dead-letters messages it cannot run instead of only logging them.

Celery's own consumer logs and drops an undecodable message (malformed JSON), a refused serializer (pickle), an
invalid task message and an unknown task name, printing the message body into the log. Ours records each in the
dead-letter table with its cause and the raw body (the log line carries neither: it may hold personal data), then
acknowledges it so the queue keeps moving. `rma dlq replay` sends a recorded message again after a fix.
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer

from rma.domain.text import escape_unstorable, fit
from rma.logging import get_logger
from rma.ports.stores import DeadLetter
from rma.services import dead_letters
from rma.worker.runtime import runtime_for

log = get_logger(__name__)


def _body_bytes(message: Any) -> bytes | None:  # noqa: ANN401 - a kombu Message
    body = getattr(message, "body", None)
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8", errors="replace")
    return None


class DeadLetteringConsumer(Consumer):
    def _dead_letter(self, message: Any, cause: str) -> bool:  # noqa: ANN401 - a kombu Message
        headers = getattr(message, "headers", None) or {}
        delivery = getattr(message, "delivery_info", None) or {}
        # The publisher chose every header: one with a NUL, or too long for its column, would make the letter fail to
        # store and send the message back to the queue for ever.
        cause = escape_unstorable(cause)[:2000]
        letter = DeadLetter(
            cause=cause,
            queue=fit(delivery.get("routing_key"), 64),
            task_name=fit(headers.get("task"), 128),
            task_id=fit(headers.get("id"), 64),
            content_type=fit(getattr(message, "content_type", None), 64),
            raw_body=_body_bytes(message),
        )
        try:
            letter_id = dead_letters.record(runtime_for(self.app).ctx, letter)
        except Exception:
            log.exception("dead_letter_failed", cause=cause)
            message.reject(requeue=True)
            return False
        log.error("message_dead_lettered", dead_letter_id=letter_id, cause=cause, queue=letter.queue)
        return True

    def on_decode_error(self, message: Any, exc: Exception) -> None:  # noqa: ANN401
        if self._dead_letter(message, f"undecodable message ({message.content_type}): {exc}"):
            message.ack()

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:  # noqa: ANN401, ARG002
        if self._dead_letter(message, f"invalid task message: {exc.__class__.__name__}: {exc}"):
            message.ack()

    def on_unknown_message(self, body: Any, message: Any) -> None:  # noqa: ANN401, ARG002
        if self._dead_letter(message, "unknown message format (not a Celery task message)"):
            message.ack()

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:  # noqa: ANN401, ARG002
        if self._dead_letter(message, f"unknown task: {exc}"):
            message.ack()
