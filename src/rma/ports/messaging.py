"""Follow-up messages: the steps a committed change hands on, the flow's hook at commit, the publisher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from rma.domain.lifecycle import Status, TimelineEntry
from rma.domain.returns import ReturnAuthorization


@dataclass(frozen=True, slots=True)
class Step:
    """One task of a follow-up chain: a task name and small JSON arguments (ids, event names)."""

    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)


Chain = tuple[Step, ...]

OutboxMessage = dict[str, Any]
"""What an outbox row holds and the publisher sends: `{"chain": [{"task": ..., "kwargs": {...}}, ...]}`."""


def outbox_message(chain: Chain) -> OutboxMessage:
    return {"chain": [{"task": step.task, "kwargs": step.kwargs} for step in chain]}


@dataclass(frozen=True, slots=True)
class Change:
    """A return saved in a unit of work, with the timeline entries it gained there (all of them for a new return)."""

    ret: ReturnAuthorization
    entries: Sequence[TimelineEntry]


@dataclass(frozen=True, slots=True)
class Announcement:
    """A customer message to write: one per (return, event)."""

    return_id: UUID
    event: Status
    seq: int


@dataclass(frozen=True, slots=True)
class FollowUps:
    chains: list[Chain]
    announcements: list[Announcement]


class Flow(Protocol):
    """Asked by the unit of work at commit: what follows the changes it saved and the chains queued explicitly."""

    def follow_ups(self, changes: Sequence[Change], queued: Sequence[Chain]) -> FollowUps: ...


class Publisher(Protocol):
    """Hands messages to the broker (publishing never happens inside a transaction: see the outbox)."""

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Send follow-up chains; raises if the broker refused them."""

    def send_task(self, task: str, kwargs: dict[str, Any]) -> None:
        """Send one task message by name (a replayed dead letter)."""

    def send_raw(self, body: bytes, *, queue: str, content_type: str) -> None:
        """Send a message body as it was received (a replayed undecodable message)."""
