"""The outbox relay: publishes committed outbox rows as Celery chains, then deletes them.

Runs right after each commit (for the rows that commit wrote) and as a periodic job (for rows left behind by a crash
between commit and publish). Several relays may run at once: on PostgreSQL each takes its rows with
FOR UPDATE SKIP LOCKED; a row published twice in a rare race is harmless because every task is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery, chain
from celery.canvas import Signature
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.tables import OutboxRow
from rma.faults import fault_point
from rma.logging import get_logger

log = get_logger(__name__)


def build_signature(app: Celery, message: dict[str, Any]) -> Signature:
    """{"chain": [{"task", "kwargs"}, ...]} -> an immutable Celery chain (each step ignores the previous result)."""
    steps = [app.signature(step["task"], kwargs=step["kwargs"], immutable=True) for step in message["chain"]]
    return steps[0] if len(steps) == 1 else chain(*steps)


class OutboxRelay:
    def __init__(self, app: Celery) -> None:
        self._app = app
        self._sessions: sessionmaker[Session] | None = None

    def bind(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def publish_ids(self, ids: Sequence[int]) -> None:
        """After-commit hook. A failure here is logged, not raised: the rows stay and the periodic relay sends them."""
        fault_point("outbox.after_commit")
        try:
            self._publish(select(OutboxRow).where(OutboxRow.id.in_(list(ids))))
        except Exception as exc:  # noqa: BLE001 - the committed work must not fail because the broker hiccupped
            log.warning("outbox_publish_deferred", rows=len(ids), error=f"{exc.__class__.__name__}: {exc}")

    def publish_pending(self, *, older_than_seconds: float, limit: int = 500) -> int:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        stmt = select(OutboxRow).where(OutboxRow.created_at <= cutoff).order_by(OutboxRow.id).limit(limit)
        return self._publish(stmt)

    def _publish(self, stmt: Select[OutboxRow]) -> int:
        if self._sessions is None:
            raise RuntimeError("outbox relay used before its database was bound")
        with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(session.scalars(stmt))
            if not rows:
                return 0
            with self._app.producer_or_acquire() as producer:
                for row in rows:
                    build_signature(self._app, row.message).apply_async(producer=producer)
            session.execute(delete(OutboxRow).where(OutboxRow.id.in_([row.id for row in rows])))
        return len(rows)
