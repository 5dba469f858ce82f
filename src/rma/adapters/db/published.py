"""Publishing right after commit: the messages a unit of work wrote go out from memory at once, and their outbox rows
are deleted in batches by a background thread, so the request or task path has no second transaction. Whatever this
misses (a crash between commit and publish, a broker hiccup) stays in the outbox for the relay's sweep; a message sent
twice that way is harmless, as every task is idempotent."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from rma.adapters.db.tables import OutboxRow
from rma.faults import fault_point
from rma.logging import get_logger
from rma.ports.messaging import OutboxMessage, Publisher

log = get_logger(__name__)


class _BatchDeleter:
    """Deletes published outbox rows in batches from a daemon thread (one statement per interval, not per commit)."""

    def __init__(self, sessions: sessionmaker[Session], interval: float = 0.2) -> None:
        self._sessions = sessions
        self._interval = interval
        self._pending: list[int] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()  # never set: the thread lives as long as the process (a daemon)

    def add(self, ids: list[int]) -> None:
        with self._lock:
            self._pending.extend(ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbox-deleter", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._lock:
            ids, self._pending = self._pending, []
        if ids:
            with self._sessions() as session, session.begin():
                session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))

    def _run(self) -> None:
        # An Event's wait, not time.sleep: the thread must not share the process's sleep with anything that patches it.
        while not self._idle.wait(self._interval):
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - a later sweep republishes what was not deleted; harmless
                log.warning("outbox_delete_deferred", error=f"{exc.__class__.__name__}: {exc}")


class PublishAfterCommit:
    """The unit of work's `after_commit` hook."""

    def __init__(self, publisher: Publisher, sessions: sessionmaker[Session]) -> None:
        self._publisher = publisher
        self._deleter = _BatchDeleter(sessions)

    def __call__(self, rows: Sequence[tuple[int, OutboxMessage]]) -> None:
        """A failure here is logged, not raised: the committed work stands, and the rows wait for the relay."""
        fault_point("outbox.after_commit")
        try:
            self._publisher.publish([message for _, message in rows])
        except Exception as exc:  # noqa: BLE001 - the committed work must not fail because the broker hiccupped
            log.warning("outbox_publish_deferred", rows=len(rows), error=f"{exc.__class__.__name__}: {exc}")
            return
        self._deleter.add([row_id for row_id, _ in rows])
