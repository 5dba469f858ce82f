"""Dead letters: messages that could not be processed, recorded with their cause; the return parked for a person;
listed and replayed by operators after a fix."""

from __future__ import annotations

from collections.abc import Sequence

from rma.domain.errors import DomainError
from rma.domain.lifecycle import SETTLED_STATUSES, Status
from rma.ports.messaging import Publisher
from rma.ports.stores import DeadLetter, DeadLetterRecord
from rma.services.context import StageContext


class ReplayError(DomainError):
    """The dead letter cannot be replayed (unknown, already replayed, nothing to send)."""


def record(ctx: StageContext, letter: DeadLetter, *, park: str | None = None) -> int:
    """Store the letter; with `park` (a cause), also park its return in needs_attention unless it is settled or
    parked already. Answers the letter's id."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        letter_id = uow.dead_letters.add(letter, at=now)
        ret = uow.returns.get(letter.return_id) if park and letter.return_id else None
        if ret is not None and ret.status not in SETTLED_STATUSES and ret.status is not Status.NEEDS_ATTENTION:
            ret.flag(park or letter.cause, at=now)
            uow.returns.save(ret)
        uow.commit()
    return letter_id


def recent(ctx: StageContext, *, limit: int, include_replayed: bool) -> Sequence[DeadLetterRecord]:
    with ctx.uow() as uow:
        return uow.dead_letters.recent(limit=limit, include_replayed=include_replayed)


def replay(ctx: StageContext, publisher: Publisher, letter_id: int) -> DeadLetter:
    """Send the message again: a failed task by name with its arguments, or an undecodable body as it was; then mark
    the letter replayed. Answers the letter."""
    with ctx.uow() as uow:
        found = uow.dead_letters.get(letter_id)
    if found is None:
        raise ReplayError(f"no dead letter {letter_id}")
    if found.replayed_at is not None:
        raise ReplayError(f"dead letter {letter_id} was already replayed at {found.replayed_at.isoformat()}")
    letter = found.letter
    if letter.task_name and letter.kwargs is not None:
        publisher.send_task(letter.task_name, letter.kwargs)
    elif letter.raw_body is not None and letter.queue:
        publisher.send_raw(letter.raw_body, queue=letter.queue, content_type=letter.content_type or "application/json")
    else:
        raise ReplayError(f"dead letter {letter_id} holds neither a task and its arguments nor a raw body to send")
    with ctx.uow() as uow:
        uow.dead_letters.mark_replayed(letter_id, at=ctx.clock.now())
        uow.commit()
    return letter
