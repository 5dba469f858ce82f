"""The outbox relay: publishes committed outbox rows as Celery chains, then deletes them.

Right after each commit the messages that commit wrote are published from memory, and their rows are deleted in
batches by a background thread: no second transaction in the request or task path. The periodic sweep publishes rows
left behind (a crash between commit and publish, or before the batched delete: then the message goes out twice, which
is harmless because every task is idempotent). Several sweeps may run at once: on PostgreSQL each takes its rows with
FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import threading
import time
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


class _BatchDeleter:
    """Deletes published outbox rows in batches from a daemon thread (one statement per interval, not per commit)."""

    def __init__(self, interval: float = 0.2) -> None:
        self._interval = interval
        self._pending: list[int] = []
        self._lock = threading.Lock()
        self._sessions: sessionmaker[Session] | None = None
        self._thread: threading.Thread | None = None

    def bind(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, ids: list[int]) -> None:
        with self._lock:
            self._pending.extend(ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbox-deleter", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._lock:
            ids, self._pending = self._pending, []
        if ids and self._sessions is not None:
            with self._sessions() as session, session.begin():
                session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - a later sweep republishes what was not deleted; harmless
                log.warning("outbox_delete_deferred", error=f"{exc.__class__.__name__}: {exc}")


class OutboxRelay:
    def __init__(self, app: Celery) -> None:
        self._app = app
        self._sessions: sessionmaker[Session] | None = None
        self._deleter = _BatchDeleter()

    def bind(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._deleter.bind(sessions)

    def flush_deletes(self) -> None:
        self._deleter.flush()

    def publish_committed(self, rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """After-commit hook. A failure here is logged, not raised: the rows stay and the periodic sweep sends them."""
        fault_point("outbox.after_commit")
        try:
            with self._app.producer_or_acquire() as producer:
                for _, message in rows:
                    build_signature(self._app, message).apply_async(producer=producer)
        except Exception as exc:  # noqa: BLE001 - the committed work must not fail because the broker hiccupped
            log.warning("outbox_publish_deferred", rows=len(rows), error=f"{exc.__class__.__name__}: {exc}")
            return
        self._deleter.add([row_id for row_id, _ in rows])

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
