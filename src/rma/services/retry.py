"""Retry a unit of work that lost an optimistic-concurrency race: reload, re-decide, save again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rma.domain.errors import ConcurrentUpdateError

T = TypeVar("T")

DEFAULT_ATTEMPTS = 5


def retry_on_conflict(operation: Callable[[], T], *, attempts: int = DEFAULT_ATTEMPTS) -> T:
    """Run `operation` until it commits without a concurrent-update conflict, at most `attempts` times.

    The operation must load what it changes inside its own unit of work, so each attempt sees the winner's state.
    """
    for _ in range(attempts - 1):
        try:
            return operation()
        except ConcurrentUpdateError:
            continue
    return operation()
