"""Group commit for single intake requests: the requests of many concurrent callers stored in one transaction.

A single request costs a transaction of its own (a commit, a flush of several tables, an issuance message), which
limits single-request intake to a fraction of what the broker takes. Callers here hand their request to one writer
thread and wait for their own answer; the writer takes whatever has queued up while the previous group was being
stored and stores it with `submit_batch` (bulk statements, one commit, batched issuance messages). Nothing waits for
a group to fill: under light load a group is one request, under heavy load it is as large as the commit was slow.

A caller is answered only after its group has committed, so an acknowledged request is never lost; a process that
dies first leaves its callers without an answer, and they send again (intake is idempotent). If a group fails, each
of its requests is tried alone, so one bad request does not take its neighbours down with it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Final

from rma.domain.requests import ReturnRequest
from rma.logging import get_logger
from rma.services.intake import Submitted

log = get_logger(__name__)

MAX_GROUP: Final = 200

StoreMany = Callable[[Sequence[ReturnRequest]], list[Submitted]]

_Item = tuple[ReturnRequest, "Future[Submitted]"]


class IntakeClosedError(RuntimeError):
    """The process is shutting down and takes no more requests (the API answers 503: send it again elsewhere)."""


class GroupedIntake:
    """Stores single requests in groups from one writer thread, started on the first request."""

    def __init__(self, store_many: StoreMany, *, max_group: int = MAX_GROUP) -> None:
        self._store_many = store_many
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, request: ReturnRequest) -> Future[Submitted]:
        """The future answer for `request`: resolved once its group has committed (or failed)."""
        future: Future[Submitted] = Future()
        with self._lock:
            if self._stopped:
                raise IntakeClosedError("intake is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="grouped-intake", daemon=True)
                self._thread.start()
            self._queue.put((request, future))
        return future

    def stop(self, timeout: float = 30.0) -> None:
        """Store what is queued, then end the writer thread; later submissions are refused."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            closing = False
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                group.append(item)
            self._store(group)
            if closing:
                return

    def _store(self, group: list[_Item]) -> None:
        try:
            results = self._store_many([request for request, _ in group])
        except Exception as exc:  # noqa: BLE001 - every caller gets an answer, the writer thread lives on
            if len(group) == 1:
                group[0][1].set_exception(exc)
                return
            log.warning("intake_group_failed", size=len(group), error=exc.__class__.__name__)
            for item in group:
                self._store([item])
            return
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
