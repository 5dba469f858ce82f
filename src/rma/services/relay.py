"""The outbox relay's sweep: publish the outbox rows their own unit of work did not (a crash between commit and
publish, a broker hiccup), then delete them. Several sweeps may run at once: each takes its rows locked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rma.ports.messaging import Publisher
from rma.ports.unit_of_work import UnitOfWork


def publish_pending(
    uow_factory: Callable[[], UnitOfWork], publisher: Publisher, *, older_than_seconds: float, limit: int = 500
) -> int:
    """Answers how many rows were published. Rows younger than `older_than_seconds` are left to their own
    after-commit publish. A message published twice (the row deleted later) is harmless: every task is idempotent."""
    # Outbox rows carry wall-clock creation times, whatever the application clock says.
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
    with uow_factory() as uow:
        rows = uow.outbox.unpublished(older_than=cutoff, limit=limit)
        if not rows:
            return 0
        publisher.publish([message for _, message in rows])
        uow.outbox.delete([row_id for row_id, _ in rows])
        uow.commit()
    return len(rows)
