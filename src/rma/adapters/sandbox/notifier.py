"""A sandbox notifier: records every customer message once per idempotency key instead of sending e-mail."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.upsert import insert_or_ignore
from rma.adapters.sandbox.tables import SandboxMessageRow
from rma.domain.notifications import CustomerMessage
from rma.domain.requests import Contact
from rma.ports.clock import Clock


class SandboxNotifier:
    def __init__(self, session_factory: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = session_factory
        self._clock = clock

    def send_many(self, messages: Sequence[tuple[CustomerMessage, Contact]]) -> list[str]:
        """One statement per batch (real e-mail providers take batches too); a repeated key is not stored twice."""
        if messages:
            now = self._clock.now()
            with self._sessions() as session, session.begin():
                insert_or_ignore(
                    session,
                    SandboxMessageRow,
                    [
                        {
                            "idempotency_key": message.idempotency_key,
                            "return_id": message.return_id,
                            "event": message.event.value,
                            "subject": message.subject,
                            "body": message.body,
                            "sent_at": now,
                        }
                        for message, _contact in messages  # a real notifier resolves the address from the contact
                    ],
                )
        return [f"sbx-msg-{message.idempotency_key}" for message, _ in messages]
